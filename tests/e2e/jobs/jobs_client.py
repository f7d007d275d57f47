"""Client helpers of the job e2e tests: submit, wait, read a job's SSE stream with httpx-sse."""

from __future__ import annotations

import time
from typing import Any

import httpx
from httpx_sse import connect_sse

FAST = {"max_new_tokens": 12}
# The contract's stages with their percents (queued, a retry's, is ours and does not happen here).
STAGES = {"created": 0, "loading_model": 15, "generating": 50, "encoding": 90}


def submit(http: httpx.Client, job_type: str, **data: Any) -> str:
    response = http.post("/jobs", json={"job_type": job_type, "request_data": data})
    assert response.status_code == 200, response.text
    return str(response.json()["job_id"])


def status(http: httpx.Client, job_id: str) -> dict[str, Any]:
    response = http.get(f"/jobs/{job_id}/status")
    assert response.status_code == 200, response.text
    return dict(response.json()["job"])


def wait_for(http: httpx.Client, job_id: str, *states: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = status(http, job_id)
        if job["status"] in states:
            return job
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} not in {states} after {timeout}s: {job}")


def wait_all_finished(http: httpx.Client, count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pending = http.get("/jobs", params={"status": "pending", "limit": 1}).json()["total"]
        running = http.get("/jobs", params={"status": "processing", "limit": 1}).json()["total"]
        if pending == running == 0:
            return
        time.sleep(0.5)
    raise TimeoutError(f"{count} jobs not finished after {timeout}s")


def read_stream(http: httpx.Client, job_id: str, last_event_id: str | None = None) -> list[tuple[str, str, Any]]:
    """(event, id, parsed JSON data) of every event until the server ends the stream."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    with connect_sse(http, "GET", f"/jobs/{job_id}/stream", headers=headers) as source:
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return [(event.event, event.id, event.json()) for event in source.iter_sse()]


def check_stream(events: list[tuple[str, str, Any]], final: str) -> None:
    """Progress in stage order, heartbeats between, exactly one final event, last."""
    names = [name for name, _, _ in events]
    assert names[-1] == final and names.count(final) == 1, names
    assert set(names[:-1]) <= {"progress", "heartbeat"}, names
    stages = [data["stage"] for name, _, data in events if name == "progress"]
    percents = [data["percent"] for name, _, data in events if name == "progress"]
    assert percents == [STAGES[stage] for stage in stages] and percents == sorted(percents), stages
    assert all(event_id for name, event_id, _ in events), "every event has an id"
    for name, _, data in events:
        if name == "progress":  # created is exact (0); a later stage's percent marks where it starts
            assert data["percent_is_estimate"] is (data["stage"] != "created")
