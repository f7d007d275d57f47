"""Readiness while a model is down: still ready (the other models serve), `degraded`, the model named."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from api.inference.model_health import DownState
from tests.unit.api.fakes import FakeTriton


class ReadyTriton(FakeTriton):
    async def is_ready(self) -> bool:
        return True

    async def loaded_models(self) -> list[str]:
        return ["custom_voice_1_7b", "engine_info"]

    async def engine_info(self) -> dict:
        return {"models": {}}


def test_health_is_degraded_and_names_a_model_that_is_down(app_client: TestClient):
    triton = ReadyTriton()
    app_client.app.state.triton = triton  # type: ignore[attr-defined]
    assert app_client.get("/api/v1/health").json()["status"] == "healthy"
    reason = "its backend process stopped"
    triton.models.mark_down("custom_voice_1_7b", DownState.DEAD, reason, retry_at=time.monotonic() + 20)
    response = app_client.get("/api/v1/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "degraded" and body["triton_ready"] is True
    [down] = body["models_down"]
    assert down["model"] == "custom_voice_1_7b" and down["state"] == "dead" and down["reason"] == reason
    assert 15 <= down["retry_in_seconds"] <= 20
    triton.models.mark_up("custom_voice_1_7b")
    assert app_client.get("/api/v1/health").json()["status"] == "healthy"
