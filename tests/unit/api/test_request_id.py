"""X-Request-ID: kept or made, on every response (errors of every layer included), in the logs of
the request, on the job it submits, and sent to Triton as the inference request's id."""

from __future__ import annotations

import asyncio
import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from api import logs, request_id
from api.errors import BackendError
from api.inference.client import TritonGateway
from api.inference.model_health import ModelHealth
from api.inference.tensors import SynthesisCall

JOB = {"job_type": "custom_voice", "request_data": {"text": "Hola", "speaker": "Ryan"}}


def test_a_plausible_client_id_is_kept_and_anything_else_replaced():
    assert request_id.accepted("3f9a0c1b-aa.b:c/d+e=") == "3f9a0c1b-aa.b:c/d+e="
    for bad in (None, "", "x" * 129, "has space", "new\nline", "ünï"):
        made = request_id.accepted(bad)
        assert re.fullmatch(r"[0-9a-f]{32}", made), bad


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/api/v1/health/live", None, 200),
        ("GET", "/api/v1/nowhere", None, 404),
        ("POST", "/api/v1/tts/custom", {"text": ""}, 422),
        ("POST", "/api/v1/jobs", {"job_type": "nope"}, 422),
    ],
)
def test_every_response_carries_the_id(app_client: TestClient, method: str, path: str, body: object, status: int):
    given = app_client.request(method, path, json=body, headers={"X-Request-ID": "req-42"})
    assert given.status_code == status and given.headers["x-request-id"] == "req-42"
    made = app_client.request(method, path, json=body)
    assert made.status_code == status and re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])


def test_a_body_over_the_limit_and_a_missing_key_carry_it_too(keyed):  # type: ignore[no-untyped-def]
    refused = keyed.client.get("/api/v1/cloned-voices", headers={"X-Request-ID": "no-key"})
    assert refused.status_code == 401 and refused.headers["x-request-id"] == "no-key"
    huge = keyed.client.post(
        "/api/v1/tts/custom", content=b"x", headers={**keyed.auth("a"), "Content-Length": str(10**10)}
    )
    assert huge.status_code == 413 and huge.headers["x-request-id"]


def test_a_job_stores_the_id_of_the_request_that_submitted_it(keyed):  # type: ignore[no-untyped-def]
    created = keyed.client.post("/api/v1/jobs", json=JOB, headers={**keyed.auth("a"), "X-Request-ID": "submit-7"})
    assert created.status_code == 200, created.text
    assert created.json()["job"]["request_id"] == "submit-7"
    status = keyed.client.get(f"/api/v1/jobs/{created.json()['job_id']}/status", headers=keyed.auth("a"))
    assert status.json()["job"]["request_id"] == "submit-7"


def test_log_lines_are_json_with_the_request_id(capsys: pytest.CaptureFixture[str]):
    logs.configure("json")
    request_id.use("log-9")
    try:
        logging.getLogger("api.test").warning("something %s", "happened")
    finally:
        request_id.use(None)
    line = [json.loads(x) for x in capsys.readouterr().err.splitlines() if '"api.test"' in x][-1]
    assert line["message"] == "something happened" and line["request_id"] == "log-9" and line["level"] == "WARNING"


class _Capture:
    """A gRPC client that records the request a stream sends, then answers nothing."""

    def __init__(self) -> None:
        self.sent: dict | None = None

    def stream_infer(self, inputs_iterator, stream_timeout):  # type: ignore[no-untyped-def]
        capture = self

        class Stream:
            def __aiter__(self):  # type: ignore[no-untyped-def]
                return self

            async def __anext__(self):  # type: ignore[no-untyped-def]
                capture.sent = await inputs_iterator.__anext__()
                raise StopAsyncIteration

            def cancel(self) -> None:
                return None

        return Stream()


def test_the_id_is_sent_to_triton_as_the_request_id():
    gateway = TritonGateway.__new__(TritonGateway)
    capture = _Capture()
    gateway._client, gateway._timeout, gateway._short, gateway.models = capture, 5.0, 1.0, ModelHealth()  # type: ignore[assignment]

    async def call() -> None:
        request_id.use("triton-5")
        with pytest.raises(BackendError):  # the capture gives no final answer
            await gateway.synthesize("custom_voice_1_7b", SynthesisCall(text="hi", language="English"))

    asyncio.run(call())
    assert capture.sent is not None and capture.sent["request_id"] == "triton-5"
