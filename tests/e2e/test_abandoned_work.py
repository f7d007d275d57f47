"""Abandoned synchronous work stops, seen in the engine's own metrics on Triton: a client that
disconnects mid-generation, and a request past its deadline (503), each take their row out of the
batch within a few decoding steps, long before the row would have ended by itself."""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools.servers import ApiServer, TritonServer, run_api

pytestmark = pytest.mark.e2e

MODEL = "voice_design_1_7b"  # the other tests use it least: its counters move for this test alone
DESIGN = {"text": "Hola, esto dura un buen rato.", "voice_description": "calm", "language": "Spanish"}
LONG_FRAMES = 200
"""A row this long takes a few hundred decoding steps on the tiny model: ample to be seen and cancelled."""
ATTEMPTS = 5
"""The row runs a few hundred frames a second: on a loaded machine the test may first see it in the
engine's metrics when it is nearly done. Such an attempt proves nothing and is made again."""
STEPS_TO_LEAVE = 40
"""Steps the row may still take once the client is gone: the engine looks at cancellations every 8
steps; the rest is the cancel crossing the API, gRPC and Triton on a busy 2-core machine."""


@dataclass
class Engine:
    """The generation loop's counters of MODEL on Triton's metrics port."""

    url: str

    def read(self) -> dict[str, float]:
        found = {"active": 0.0, "steps": 0.0, "frames": 0.0}
        names = {"qwen_tts_engine_active_rows": "active", "qwen_tts_engine_steps_total": "steps"}
        names["qwen_tts_engine_frames_total"] = "frames"
        for line in httpx.get(self.url, timeout=5).text.splitlines():
            name = line.split("{", 1)[0]
            if name in names and f'model="{MODEL}"' in line:
                found[names[name]] = float(line.rsplit(" ", 1)[1])
        return found

    def until(self, predicate: Any, timeout: float, what: str) -> dict[str, float]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = self.read()
            if predicate(now):
                return now
            time.sleep(0.005)
        raise TimeoutError(f"{what} not seen within {timeout} s")


@pytest.fixture(scope="module")
def engine(triton: TritonServer) -> Engine:
    return Engine(f"http://127.0.0.1:{triton.metrics_port}/metrics")


@pytest.fixture(scope="module")
def long_body(api: ApiServer) -> tuple[dict[str, Any], int]:
    """A request whose row runs LONG_FRAMES or more: the tiny random model samples EOS at random, so
    a seed giving a long row is looked for (the same seed gives the same audio every time)."""
    with httpx.Client(base_url=f"{api.url}/api/v1", timeout=120) as http:
        for seed in range(60):
            body = {**DESIGN, "seed": seed, "max_new_tokens": 4000}
            answer = http.post("/tts/design", json=body)
            assert answer.status_code == 200, answer.text
            frames = round(answer.json()["duration_seconds"] / 0.08)
            if frames >= LONG_FRAMES:
                return body, frames
    pytest.fail(f"no seed gave a row of {LONG_FRAMES} frames")


def _send(port: int, body: dict[str, Any]) -> socket.socket:
    """POST /tts/design on a raw connection, so that the test can drop it mid-request."""
    payload = json.dumps(body).encode()
    connection = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = (
        f"POST /api/v1/tts/design HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    connection.sendall(head.encode() + payload)
    return connection


def test_a_client_that_disconnects_takes_its_row_out_of_the_batch(
    api: ApiServer, engine: Engine, long_body: tuple[dict[str, Any], int]
) -> None:
    body, full_frames = long_body
    for _ in range(ATTEMPTS):
        before = engine.until(lambda m: m["active"] == 0, 30, "an idle model")
        connection = _send(api.port, body)
        running = engine.until(lambda m: m["active"] >= 1, 30, "the row in the batch")
        if running["frames"] - before["frames"] < full_frames / 2:
            break  # seen in its first half: leaving now is long before its end
        connection.close()  # seen too late to tell a cancelled row from one that ends: again
    else:
        pytest.fail(f"the row was never seen in its first half in {ATTEMPTS} attempts")
    connection.close()  # the client goes away mid-generation
    left = engine.until(lambda m: m["active"] == 0, 10, "the row leaving the batch")
    steps, frames = left["steps"] - running["steps"], left["frames"] - before["frames"]
    assert steps <= STEPS_TO_LEAVE, f"the row took {steps:.0f} steps to leave"
    assert frames < full_frames / 2 + STEPS_TO_LEAVE, (frames, full_frames)


def test_a_request_past_its_deadline_is_503_and_its_row_cancelled(
    triton: TritonServer, log_dir: Path, engine: Engine, long_body: tuple[dict[str, Any], int]
) -> None:
    body, full_frames = long_body
    with run_api(triton.grpc_url, log_dir, name="api-deadline", sync_request_timeout_seconds="0.3") as server:
        before = engine.until(lambda m: m["active"] == 0, 30, "an idle model")
        started = time.monotonic()
        answer = httpx.post(f"{server.url}/api/v1/tts/design", json=body, timeout=30)
        took = time.monotonic() - started
        assert answer.status_code == 503, answer.text
        assert "longer than 0.3 s" in answer.json()["error"] and answer.headers["retry-after"] == "5"
        assert took < 5, took
        left = engine.until(lambda m: m["active"] == 0, 10, "the row leaving the batch")
        assert left["frames"] - before["frames"] < full_frames, (left, before, full_frames)
