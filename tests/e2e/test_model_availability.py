"""Models that are not loaded, loading on demand, and Triton being unreachable."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from devtools.servers import free_port, run_api

pytestmark = pytest.mark.e2e
BODY = {"text": "Hello", "speaker": "Ryan", "model_size": "0.6B", "max_new_tokens": 12}


def test_unloaded_model_is_503_naming_it_then_loads_on_demand(client: httpx.Client, triton, log_dir: Path):
    refused = client.post("/tts/custom", json=BODY)
    assert refused.status_code == 503
    assert "custom_voice_0_6b" in refused.json()["error"]
    with run_api(triton.grpc_url, log_dir, name="api-on-demand", load_models_on_demand="true") as api:
        response = httpx.post(f"{api.url}/api/v1/tts/custom", json=BODY, timeout=300)
    assert response.status_code == 200, response.text
    assert response.json()["model_used"] == "0.6B_custom_voice"
    assert "0.6B_custom_voice" in client.get("/health").json()["models_loaded"]


def test_triton_unreachable_is_503_and_liveness_stays_up(log_dir: Path):
    dead = f"127.0.0.1:{free_port()}"
    with run_api(dead, log_dir, name="api-no-triton", triton_connect_timeout_seconds="1") as api:
        base = f"{api.url}/api/v1"
        synth = httpx.post(f"{base}/tts/custom", json=BODY, timeout=30)
        health = httpx.get(f"{base}/health", timeout=30)
        live = httpx.get(f"{base}/health/live", timeout=30)
    assert synth.status_code == 503 and "Triton" in synth.json()["error"]
    assert health.status_code == 503 and health.json()["status"] == "unhealthy"
    assert live.status_code == 200
