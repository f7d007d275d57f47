"""A client that leaves a streamed answer cancels its generation: its row leaves the engine's batch
(Triton's own metrics say so) having generated far fewer frames than the same seeded request does in
full, and its in-flight slot is free again. The API's metrics count the first byte, the audio
streamed and the cancelled call."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.settings import Settings
from devtools.servers import ApiServer, TritonServer, run_api
from tests.e2e.test_metrics import sample

pytestmark = pytest.mark.e2e

MODEL = {"model": "custom_voice_1_7b"}
# One segment (the API's segment_max_chars is 300): a longer text would be split into segments run
# as concurrent short rows (api/services/longform.py), each done before the client reads any audio.
LONG = " ".join(["A long sentence that keeps the model talking for a good while, clause after clause."] * 3)
# The tiny random checkpoints sample EOS after some 5 to 170 frames: the test takes the first of a few
# seeds that speaks long (a seeded request gives the same audio every time), so that the row is still
# generating while the test reads its first chunk and knocks on the busy slot.
SEEDED = {"max_new_tokens": 3000, "top_k": 5}
LONG_FRAMES = 120
FRAME_BYTES = 1920 * 2  # 80 ms of 16-bit pcm at 24 kHz


@pytest.fixture(scope="module")
def one_slot_api(triton: TritonServer, log_dir: Path) -> Iterator[ApiServer]:
    with run_api(triton.grpc_url, log_dir, name="api-one-slot", max_inflight_requests="1") as server:
        yield server


def engine(triton: TritonServer, name: str) -> float:
    return sample(httpx.get(f"http://127.0.0.1:{triton.metrics_port}/metrics").text, name, **MODEL)


def wait_until_idle(triton: TritonServer, timeout: float) -> float:
    """Seconds until the model's batch is empty (fails past `timeout`)."""
    started = time.monotonic()
    while engine(triton, "qwen_tts_engine_active_rows") > 0:
        assert time.monotonic() - started < timeout, "the cancelled row is still generating"
        time.sleep(0.05)
    return time.monotonic() - started


def test_leaving_a_stream_cancels_the_generation_and_frees_the_slot(one_slot_api: ApiServer, triton: TritonServer):
    assert len(LONG) <= Settings.model_fields["segment_max_chars"].default  # one row, not segments
    body = {"model": "custom_voice_1_7b", "voice": "Ryan", "input": LONG, "response_format": "pcm"}
    url = f"{one_slot_api.url}/v1/audio/speech"
    wait_until_idle(triton, 60)  # nothing left over from other tests
    with httpx.Client(timeout=60) as http:
        frames, seed = 0, -1
        while frames < LONG_FRAMES and seed < 15:
            seed += 1
            whole = http.post(url, json={**body, **SEEDED, "seed": seed})
            assert whole.status_code == 200
            frames = len(whole.content) // FRAME_BYTES
        assert frames >= 48, f"{frames} frames: too short to tell a cancelled row from a finished one"
        seeded = {**SEEDED, "seed": seed}
        before = httpx.get(f"{one_slot_api.url}/metrics").text
        frames_before = engine(triton, "qwen_tts_engine_frames_total")
        with http.stream("POST", url, json={**body, **seeded}) as response:
            assert response.status_code == 200 and response.headers["content-type"] == "audio/pcm"
            pieces = response.iter_raw()  # kept: a dropped iterator closes the response (a disconnect)
            assert next(pieces)  # audio is flowing
            busy = http.post(url, json={**body, "max_new_tokens": 8})
            assert busy.status_code == 429 and busy.json()["error"]["type"] == "rate_limit_error"
        # the connection is closed with most of the answer unread
        wait_until_idle(triton, 10)
        generated = engine(triton, "qwen_tts_engine_frames_total") - frames_before
        assert generated < frames / 2, f"{generated} of {frames} frames generated after the client left"
        assert http.post(url, json={**body, "max_new_tokens": 8}).status_code == 200  # the slot is free
    after = httpx.get(f"{one_slot_api.url}/metrics").text
    cancelled = {**MODEL, "outcome": "cancelled"}
    assert sample(after, "qwen_tts_triton_request_duration_seconds_count", **cancelled) == (
        sample(before, "qwen_tts_triton_request_duration_seconds_count", **cancelled) + 1
    )
    assert sample(after, "qwen_tts_time_to_first_byte_seconds_count", format="pcm") == (
        sample(before, "qwen_tts_time_to_first_byte_seconds_count", format="pcm") + 2  # the 429 sent none
    )
    streamed = sample(after, "qwen_tts_audio_streamed_seconds_total", **MODEL)
    assert streamed > sample(before, "qwen_tts_audio_streamed_seconds_total", **MODEL)
