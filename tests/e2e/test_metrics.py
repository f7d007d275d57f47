"""/metrics on the running API reflects real traffic through Triton."""

from __future__ import annotations

import re

import httpx
import pytest

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
