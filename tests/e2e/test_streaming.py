"""STREAM=true straight to Triton over gRPC streaming: audio chunks as frames are decoded, then a
final response; the chunks end to end are the whole utterance (1920 samples per 80 ms frame).

Works with whichever engine Triton runs (QWEN_TTS_ENGINE, else config.pbtxt's `continuous`): the
grouped fallback answers a streaming request with one final response."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tritonclient.grpc as grpc

from devtools.servers import TritonServer
from devtools.streaming import stream

pytestmark = pytest.mark.e2e

MODEL = "custom_voice_1_7b"
SAMPLES_PER_FRAME = 1920
CHUNK_FRAMES = int(os.environ.get("QWEN_TTS_STREAM_CHUNK_FRAMES", "8"))
MAX_NEW_TOKENS = 40


def tensor(name: str, value: object, np_type: type, dtype: str) -> grpc.InferInput:
    array = np.array([[value]], dtype=np_type)
    item = grpc.InferInput(name, list(array.shape), dtype)
    item.set_data_from_numpy(array)
    return item


def request(*, streaming: bool) -> list[grpc.InferInput]:
    inputs = [
        tensor("TEXT", b"A streamed sentence, long enough for several chunks.", np.object_, "BYTES"),
        tensor("SPEAKER", b"Ryan", np.object_, "BYTES"),
        tensor("MAX_NEW_TOKENS", MAX_NEW_TOKENS, np.int32, "INT32"),
        tensor("TEMPERATURE", 0.0, np.float32, "FP32"),  # greedy: both requests decode the same frames
        tensor("SEED", 7, np.int64, "INT64"),
    ]
    return [*inputs, tensor("STREAM", True, np.bool_, "BOOL")] if streaming else inputs


def streams_chunks() -> bool:
    return os.environ.get("QWEN_TTS_ENGINE", "continuous") != "grouped"


def test_stream_sends_chunks_then_a_final_response_adding_up_to_the_whole_audio(triton: TritonServer):
    whole = stream(triton.grpc_url, MODEL, request(streaming=False))
    assert len(whole.results) == 1, "without STREAM the answer is one final response"
    frames, rest = divmod(whole.audio().size, SAMPLES_PER_FRAME)
    assert rest == 0 and 2 <= frames <= MAX_NEW_TOKENS

    streamed = stream(triton.grpc_url, MODEL, request(streaming=True))
    chunks = [r.as_numpy("AUDIO").reshape(-1) for r in streamed.results[:-1]]
    assert streamed.audio().size == frames * SAMPLES_PER_FRAME
    assert all(chunk.size > 0 and chunk.size % SAMPLES_PER_FRAME == 0 for chunk in chunks)
    assert streamed.results[-1].as_numpy("SAMPLE_RATE").tolist() == [[24000]]
    assert streamed.arrivals == sorted(streamed.arrivals)
    np.testing.assert_allclose(streamed.audio(), whole.audio(), atol=1e-3)  # chunked decoding, same audio
    if streams_chunks() and frames > 2 * CHUNK_FRAMES:
        assert len(chunks) >= 2, f"{frames} frames came in {len(chunks)} chunks of up to {CHUNK_FRAMES}"
        assert streamed.arrivals[0] < streamed.arrivals[-1]
