"""The client side of the clone-prompt protocol: which tensors, which shapes, which outputs."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from api.errors import BackendError, UnavailableError
from api.inference.client import TritonGateway
from api.inference.model_health import ModelHealth
from api.inference.tensors import ClonePrompt, SynthesisCall, build_inputs, prompt_call, read_clone_prompt


def tensors(call: SynthesisCall) -> dict[str, Any]:
    return {t.name(): t for t in build_inputs(call)}


def test_prompt_only_call_sends_reference_and_flag_but_no_text():
    call = SynthesisCall(
        text=None, language=None, ref_audio=np.zeros(800), ref_sample_rate=16000, ref_text="hola",
        x_vector_only=False, prompt_only=True,
    )  # fmt: skip
    inputs = tensors(call)
    assert set(inputs) == {"REF_AUDIO", "REF_SAMPLE_RATE", "REF_TEXT", "X_VECTOR_ONLY", "PROMPT_ONLY"}
    assert inputs["PROMPT_ONLY"].shape() == [1, 1] and inputs["PROMPT_ONLY"].datatype() == "BOOL"


def test_stored_prompt_is_sent_with_a_batch_dimension_and_no_audio():
    prompt = ClonePrompt(np.arange(15).reshape(5, 3), np.ones(8, np.float64), x_vector_only=False)
    inputs = tensors(SynthesisCall(text="hi", language="English", ref_text="hola", **prompt_call(prompt)))
    assert set(inputs) == {"TEXT", "LANGUAGE", "REF_TEXT", "REF_CODE", "REF_SPK_EMBEDDING"}
    assert (inputs["REF_CODE"].shape(), inputs["REF_CODE"].datatype()) == ([1, 5, 3], "INT64")
    assert (inputs["REF_SPK_EMBEDDING"].shape(), inputs["REF_SPK_EMBEDDING"].datatype()) == ([1, 8], "FP32")


def test_x_vector_prompt_sends_no_codes():
    prompt = ClonePrompt(None, np.ones(8, np.float32), x_vector_only=True)
    assert "REF_CODE" not in tensors(SynthesisCall(text="hi", language="Auto", **prompt_call(prompt)))


def test_reading_the_prompt_outputs():
    icl = read_clone_prompt(np.ones((1, 5, 3), np.int64), np.ones((1, 8), np.float32), x_vector_only=False)
    assert icl.ref_code is not None and icl.ref_code.shape == (5, 3) and icl.ref_spk_embedding.shape == (8,)
    xvec = read_clone_prompt(np.zeros((1, 0, 3), np.int64), np.ones((1, 8), np.float32), x_vector_only=True)
    assert xvec.ref_code is None and xvec.x_vector_only
    with pytest.raises(ValueError, match="REF_CODE"):
        read_clone_prompt(np.zeros((1, 0, 3), np.int64), np.ones((1, 8), np.float32), x_vector_only=False)
    with pytest.raises(ValueError, match="REF_SPK_EMBEDDING"):
        read_clone_prompt(np.ones((1, 5, 3), np.int64), None, x_vector_only=False)


class _Result:
    def __init__(self, outputs: dict[str, np.ndarray]):
        self.outputs = outputs

    def as_numpy(self, name: str) -> np.ndarray | None:
        return self.outputs.get(name)

    def get_response(self) -> Any:
        return type("Response", (), {"parameters": {}})()  # no triton_final_response: a final answer


class _FakeClient:
    """Answers a gRPC stream with one response or one error, as a decoupled model's final answer."""

    def __init__(self, answer: _Result | Exception):
        self.answer = answer
        self.seen: dict[str, Any] = {}

    def stream_infer(self, inputs_iterator: Any, stream_timeout: float) -> Any:
        fake = self

        class _Responses:
            def __aiter__(self) -> Any:
                return self

            async def __anext__(self) -> tuple[Any, Any]:
                if fake.seen:
                    raise StopAsyncIteration
                first = await inputs_iterator.__anext__()
                inputs, outputs = first["inputs"], first["outputs"]
                fake.seen = {"model": first["model_name"], "inputs": {t.name() for t in inputs}}
                fake.seen["outputs"] = {o.name() for o in outputs}
                if isinstance(fake.answer, Exception):
                    return None, fake.answer
                return fake.answer, None

            def cancel(self) -> bool:
                return True

        return _Responses()


def gateway(answer: _Result | Exception) -> tuple[TritonGateway, _FakeClient]:
    triton = TritonGateway.__new__(TritonGateway)
    fake = _FakeClient(answer)
    triton._client, triton._timeout, triton._short = fake, 5.0, 1.0  # type: ignore[assignment]
    triton.models = ModelHealth()
    return triton, fake


def create(triton: TritonGateway) -> ClonePrompt:
    return asyncio.run(
        triton.create_clone_prompt(
            "voice_clone_1_7b", ref_audio=np.zeros(800, np.float32), ref_sample_rate=16000, ref_text="hola",
            x_vector_only=False,
        )
    )  # fmt: skip


def test_create_clone_prompt_asks_for_the_prompt_outputs_only():
    triton, fake = gateway(_Result({"REF_CODE": np.ones((1, 4, 2), np.int64), "REF_SPK_EMBEDDING": np.ones((1, 8))}))
    prompt = create(triton)
    assert prompt.ref_code is not None and prompt.ref_code.shape == (4, 2)
    assert fake.seen["outputs"] == {"REF_CODE", "REF_SPK_EMBEDDING"} and "TEXT" not in fake.seen["inputs"]


def test_create_clone_prompt_errors_map_to_the_taxonomy():
    with pytest.raises(BackendError, match="unusable clone prompt"):
        create(gateway(_Result({"REF_SPK_EMBEDDING": np.ones((1, 8))}))[0])
    down = InferenceServerException(msg="failed to connect to all addresses", status="StatusCode.UNAVAILABLE")
    with pytest.raises(UnavailableError):
        create(gateway(down)[0])
