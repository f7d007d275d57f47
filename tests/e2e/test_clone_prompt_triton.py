"""Persistent cloned voices through the real Triton server: build a prompt, store it, generate from it.

The model is decoupled: every call goes over gRPC streaming (devtools/streaming.py), where an error
carries a message and no status code; the engine sends a request's own errors as the contract's
structured error (`tts_contract.errors`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import tritonclient.grpc as grpc
from tritonclient.utils import InferenceServerException

from devtools.servers import TritonServer
from devtools.streaming import StreamingClient, stream_many
from tts_contract.errors import ErrorKind, decode_error

pytestmark = pytest.mark.e2e

MODEL = "voice_clone_0_6b"
RATE = 16_000
# 3 s of a deterministic voice-like clip at 16 kHz: 38 frames of 12.5 Hz codes once resampled.
_t = np.arange(3 * RATE) / RATE
AUDIO = (0.2 * np.sin(2 * np.pi * 140 * _t) * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * _t))).astype(np.float32)


def tensor(name: str, array: np.ndarray, dtype: str) -> grpc.InferInput:
    item = grpc.InferInput(name, list(array.shape), dtype)
    item.set_data_from_numpy(array)
    return item


def text(name: str, value: str) -> grpc.InferInput:
    return tensor(name, np.array([[value.encode()]], dtype=np.object_), "BYTES")


def flag(name: str) -> grpc.InferInput:
    return tensor(name, np.array([[True]]), "BOOL")


def outputs(*names: str) -> list[grpc.InferRequestedOutput]:
    return [grpc.InferRequestedOutput(name) for name in names]


def reference() -> list[grpc.InferInput]:
    rate = tensor("REF_SAMPLE_RATE", np.array([[RATE]], np.int32), "INT32")
    return [tensor("REF_AUDIO", AUDIO.reshape(1, -1), "FP32"), rate]


def generation(code: np.ndarray | None, embedding: np.ndarray, ref_text: str | None) -> list[grpc.InferInput]:
    inputs = [text("TEXT", "Spoken in a stored voice."), tensor("MAX_NEW_TOKENS", np.array([[8]], np.int32), "INT32")]
    inputs.append(tensor("REF_SPK_EMBEDDING", embedding, "FP32"))
    if code is not None:
        inputs.append(tensor("REF_CODE", code, "INT64"))
    if ref_text is not None:
        inputs.append(text("REF_TEXT", ref_text))
    return inputs


@pytest.fixture(scope="module")
def client(triton: TritonServer) -> StreamingClient:
    return StreamingClient(triton.grpc_url)


@pytest.fixture(scope="module")
def icl_prompt(client: Any) -> tuple[np.ndarray, np.ndarray]:
    inputs = [*reference(), text("REF_TEXT", "The reference words."), flag("PROMPT_ONLY")]
    result = client.infer(MODEL, inputs, outputs=outputs("REF_CODE", "REF_SPK_EMBEDDING"))
    return result.as_numpy("REF_CODE"), result.as_numpy("REF_SPK_EMBEDDING")


def test_prompt_only_returns_codes_and_embedding(icl_prompt: tuple[np.ndarray, np.ndarray]):
    code, embedding = icl_prompt
    assert code.dtype == np.int64 and code.shape == (1, 38, 4)
    assert embedding.dtype == np.float32 and embedding.shape == (1, 32)
    assert code.min() >= 0 and code.max() < 64 and np.all(np.isfinite(embedding))


def test_stored_prompt_generates_audio_and_only_requested_outputs_come_back(client: Any, icl_prompt: Any):
    code, embedding = icl_prompt
    result = client.infer(MODEL, generation(code, embedding, "The reference words."), outputs=outputs("AUDIO"))
    audio = result.as_numpy("AUDIO")
    assert audio.dtype == np.float32 and audio.shape[0] == 1 and audio.shape[1] > 0
    assert [out.name for out in result.get_response().outputs] == ["AUDIO"]
    everything = client.infer(MODEL, generation(code, embedding, "The reference words."))
    assert [out.name for out in everything.get_response().outputs] == ["AUDIO", "SAMPLE_RATE"]
    assert everything.as_numpy("SAMPLE_RATE").tolist() == [[24000]]


def test_x_vector_only_prompt(client: Any):
    inputs = [*reference(), flag("X_VECTOR_ONLY"), flag("PROMPT_ONLY")]
    result = client.infer(MODEL, inputs, outputs=outputs("REF_CODE", "REF_SPK_EMBEDDING"))
    code, embedding = result.as_numpy("REF_CODE"), result.as_numpy("REF_SPK_EMBEDDING")
    assert code.shape == (1, 0, 4) and code.dtype == np.int64 and embedding.shape == (1, 32)
    for sent_code in (None, code):  # REF_CODE left out, or sent back empty as received
        audio = client.infer(MODEL, generation(sent_code, embedding, None), outputs=outputs("AUDIO")).as_numpy("AUDIO")
        assert audio.shape[1] > 0


def test_stored_prompt_and_reference_audio_together_are_rejected(client: Any, icl_prompt: Any):
    code, embedding = icl_prompt
    with pytest.raises(InferenceServerException) as info:
        client.infer(MODEL, generation(code, embedding, "words") + reference(), outputs=outputs("AUDIO"))
    error = decode_error(info.value.message())
    assert error is not None and error.kind is ErrorKind.INVALID_ARGUMENT and "mutually exclusive" in error.message
    assert "REF_AUDIO" in info.value.message() and "REF_SPK_EMBEDDING" in info.value.message()


def _batched_executions(client: Any) -> int:
    stats = client.get_inference_statistics(MODEL, as_json=True)["model_stats"][0]
    return sum(int(b["compute_infer"]["count"]) for b in stats.get("batch_stats", []) if int(b["batch_size"]) >= 2)


def _concurrently(client: StreamingClient, requests: list[list[grpc.InferInput]]) -> list[Any]:
    answers = stream_many(client.url, MODEL, requests, outputs=outputs("AUDIO"))
    return [a if isinstance(a, Exception) else a.results[-1] for a in answers]


def test_malformed_prompt_fails_alone_in_its_batch(client: Any, icl_prompt: Any):
    code, embedding = icl_prompt
    good = generation(code, embedding, "The reference words.")
    bad = generation(np.full((1, 5, 4), 64, np.int64), embedding, "The reference words.")  # codes out of range
    for _attempt in range(3):
        before = _batched_executions(client)
        results = _concurrently(client, [good, bad, generation(None, embedding, None)])
        if _batched_executions(client) > before:
            break
    else:
        pytest.fail("the three concurrent requests were never executed as one batch")
    assert results[0].as_numpy("AUDIO").shape[1] > 0 and results[2].as_numpy("AUDIO").shape[1] > 0
    assert isinstance(results[1], InferenceServerException)
    error = decode_error(results[1].message())
    assert error is not None and error.kind is ErrorKind.INVALID_ARGUMENT and "REF_CODE values" in error.message
