"""/metrics on the running API reflects real traffic through Triton."""

from __future__ import annotations

import re
import time

import httpx
import pytest

from tests.e2e.jobs.jobs_client import FAST, submit, wait_for

pytestmark = pytest.mark.e2e


def sample(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        if all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_audio_and_encoding(client: httpx.Client, api):
    before = httpx.get(f"{api.url}/metrics").text
    body = {"text": "Metrics please.", "speaker": "Ryan", "output_format": "mp3", "max_new_tokens": 12}
    assert client.post("/tts/custom", json=body).status_code == 200
    assert client.get("/cloned-voices/not_a_voice_zz").status_code == 404
    after = httpx.get(f"{api.url}/metrics").text
    route = "/api/v1/tts/custom"
    assert sample(after, "qwen_tts_http_requests_total", route=route, status="200") == (
        sample(before, "qwen_tts_http_requests_total", route=route, status="200") + 1
    )
    assert sample(after, "qwen_tts_audio_generated_seconds_total", model="custom_voice_1_7b") > sample(
        before, "qwen_tts_audio_generated_seconds_total", model="custom_voice_1_7b"
    )
    assert sample(after, "qwen_tts_audio_encoding_duration_seconds_count", format="mp3") >= 1
    # the 404 is labelled by its route template, never by the raw id
    assert "not_a_voice_zz" not in after
    assert re.search(r'qwen_tts_http_requests_total\{[^}]*route="/api/v1/cloned-voices/\{voice_id\}"', after)


def test_metrics_record_a_job_and_the_queue_gauges(client: httpx.Client, api):
    completed = {"job_type": "custom_voice", "outcome": "completed"}
    before = sample(httpx.get(f"{api.url}/metrics").text, "qwen_tts_job_duration_seconds_count", **completed)
    job_id = submit(client, "custom_voice", text="Metrics for a job.", speaker="Ryan", **FAST)
    assert wait_for(client, job_id, "completed", "failed")["status"] == "completed"
    # the duration is recorded right after the outcome is stored; the gauges at the next tick (1 s here)
    deadline = time.monotonic() + 30
    while True:
        text = httpx.get(f"{api.url}/metrics").text
        recorded = sample(text, "qwen_tts_job_duration_seconds_count", **completed) >= before + 1
        ticked = sample(text, "qwen_tts_jobs", state="completed") >= 1
        if (recorded and ticked) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert sample(text, "qwen_tts_job_duration_seconds_count", **completed) >= 1
    assert sample(text, "qwen_tts_job_queue_wait_seconds_count", job_type="custom_voice") >= 1
    assert re.search(r"^qwen_tts_jobs_queue_depth [0-9.e+]+$", text, re.M)
    assert re.search(r"^qwen_tts_cloned_voices [0-9.e+]+$", text, re.M)
    assert sample(text, "qwen_tts_jobs", state="completed") >= 1


def test_triton_exports_the_generation_loops_metrics(client: httpx.Client, triton):
    url = f"http://127.0.0.1:{triton.metrics_port}/metrics"
    model = {"model": "custom_voice_1_7b"}
    before = httpx.get(url).text
    body = {"text": "Count my frames.", "speaker": "Ryan", "max_new_tokens": 10}
    response = client.post("/tts/custom", json=body)
    assert response.status_code == 200
    after = httpx.get(url).text
    frames = sample(after, "qwen_tts_engine_frames_total", **model) - sample(
        before, "qwen_tts_engine_frames_total", **model
    )
    assert 1 <= frames <= 9  # max_new_tokens 10: at most 9 frames
    assert sample(after, "qwen_tts_engine_steps_total", **model) > sample(
        before, "qwen_tts_engine_steps_total", **model
    )
    assert sample(after, "qwen_tts_engine_max_rows", **model) == 32
    assert sample(after, "qwen_tts_engine_active_rows", **model) == 0  # nothing left running
