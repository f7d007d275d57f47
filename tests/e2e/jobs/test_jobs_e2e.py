"""Jobs through the real API, database and Triton: every job type with its SSE stream, FIFO order,
cancellation (pending, and running with its Triton call), and an API restart with jobs pending.
Every test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import base64
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from devtools.servers import ApiServer, TritonServer
from tests.e2e.jobs.conftest import job_api, reference_wav
from tests.e2e.jobs.jobs_client import FAST, check_stream, read_stream, status, submit, wait_all_finished, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def api(triton: TritonServer, log_dir: Path, db_url: str) -> Iterator[ApiServer]:
    name = "jobs-api-" + db_url.split(":", 1)[0].split("+")[0]
    with job_api(triton.grpc_url, log_dir, db_url, name) as server:
        yield server


@pytest.fixture
def http(api: ApiServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{api.url}/api/v1", timeout=120) as client:
        yield client


def test_every_job_type_end_to_end(http: httpx.Client, audio_host: str):
    wav = base64.b64encode(reference_wav()).decode()
    created = http.post(
        "/cloned-voices", json={"name": "Voz jobs", "ref_text": "hola", "language": "Spanish", "ref_audio_base64": wav}
    )
    assert created.status_code == 200, created.text
    voice_id = created.json()["voice"]["id"]
    jobs = {
        "custom_voice": submit(http, "custom_voice", text="Hola", speaker="Ryan", **FAST),
        "voice_design": submit(http, "voice_design", text="Hola", voice_description="voz grave", **FAST),
        "voice_clone_url": submit(http, "voice_clone_url", text="Hola", ref_text="hola",
                                  ref_audio_url=f"{audio_host}/voice.wav", output_format="ogg", **FAST),
        "voice_clone_file": submit(http, "voice_clone_file", text="Hola", ref_text="hola", ref_audio_base64=wav,
                                   **FAST),
        "cloned_voice_generate": submit(http, "cloned_voice_generate", text="Hola", voice_id=voice_id, **FAST),
    }  # fmt: skip
    for job_type, job_id in jobs.items():
        events = read_stream(http, job_id)
        check_stream(events, "completed")
        result = events[-1][2]["result"]
        assert result["success"] and result["sample_rate"] == 24000, job_type
        audio = base64.b64decode(result["audio_base64"])
        assert audio[:4] == (b"OggS" if job_type == "voice_clone_url" else b"RIFF"), job_type
        assert http.get(f"/jobs/{job_id}/result").json()["result"] == result
        assert status(http, job_id)["type"] == job_type
    assert http.get("/cloned-voices/" + voice_id).json()["voice"]["use_count"] == 1
    # A stream opened while its job is still at work shows its progress (the jobs above may have
    # finished before their streams opened: generation with the tiny checkpoints takes ~0.1 s).
    slow = submit(http, "voice_clone_url", text="Hola", ref_text="hola", ref_audio_url=f"{audio_host}/slow.wav")
    events = read_stream(http, slow)
    check_stream(events, "completed")
    progress = [(data["stage"], data["message"]) for name, _, data in events if name == "progress"]
    assert ("loading_model", "Preparando audio de referencia...") in progress, progress


def test_a_late_or_reconnecting_client_gets_the_state_and_the_end(http: httpx.Client):
    job_id = submit(http, "custom_voice", text="Hola", speaker="Ryan", **FAST)
    first = read_stream(http, job_id)
    check_stream(first, "completed")
    again = read_stream(http, job_id, last_event_id=first[-2][1])
    assert [name for name, _, _ in again] == ["completed"]
    failed = submit(http, "voice_clone_url", text="Hola", ref_text="x", ref_audio_url="http://127.0.0.1:9/a.wav")
    events = read_stream(http, failed)
    assert events[-1][0] == "error" and events[-1][2]["error_type"] == "bad_request"
    result = http.get(f"/jobs/{failed}/result").json()
    assert result["success"] is False and "127.0.0.1" in result["error"]


def test_twenty_jobs_start_in_fifo_order_one_at_a_time(http: httpx.Client):
    ids = [submit(http, "custom_voice", text=f"Hola {i}", speaker="Ryan", max_new_tokens=4) for i in range(20)]
    wait_all_finished(http, 20, timeout=180)
    jobs = [status(http, job_id) for job_id in ids]
    assert all(job["status"] == "completed" for job in jobs)
    starts = [job["started_at"] for job in jobs]
    assert starts == sorted(starts)
    for before, after in itertools.pairwise(jobs):  # concurrency 1: one after the other
        assert after["started_at"] >= before["finished_at"]


def cancel_while_generating(http: httpx.Client, job_id: str) -> str:
    """Cancel a job while its Triton call runs; the id of the job cancelled. The tiny checkpoints
    often sample EOS within ~0.1 s of generation, so a job may finish first: then another is sent."""
    for _ in range(30):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            job = status(http, job_id)
            if job["status"] not in ("pending", "processing") or job["progress"]["stage"] == "generating":
                break
            time.sleep(0.005)
        if job["status"] == "processing" and http.post(f"/jobs/{job_id}/cancel").status_code == 200:
            return job_id
        job_id = submit(http, "custom_voice", text="Un texto largo", speaker="Ryan", max_new_tokens=2000)
    pytest.fail("no job ran long enough on Triton to be cancelled while it generated")


def test_cancel_pending_and_running(http: httpx.Client, audio_host: str):
    slow = submit(http, "voice_clone_url", text="Hola", ref_text="hola", ref_audio_url=f"{audio_host}/slow.wav")
    long = submit(http, "custom_voice", text="Un texto largo", speaker="Ryan", max_new_tokens=300)
    queued = submit(http, "custom_voice", text="Hola", speaker="Ryan", **FAST)
    wait_for(http, slow, "processing")
    assert status(http, queued)["progress"]["position"] == 2
    assert http.post(f"/jobs/{queued}/cancel").json()["success"]  # pending: at once
    assert status(http, queued)["status"] == "cancelled"
    assert read_stream(http, queued)[-1][0] == "cancelled"
    started = time.monotonic()
    assert http.post(f"/jobs/{slow}/cancel").status_code == 200  # running: the fetch is abandoned
    # the worker moved on to the next job: it may even have finished it (the tiny model is fast)
    wait_for(http, long, "processing", "completed", timeout=10)
    assert time.monotonic() - started < 3.5, "the worker moved on before the slow download would have ended"
    long = cancel_while_generating(http, long)  # running on Triton: its gRPC call cancelled
    events = read_stream(http, long)
    assert events[-1][0] == "cancelled"
    assert http.post(f"/jobs/{long}/cancel").status_code == 409
    assert http.get(f"/jobs/{long}/result").status_code == 409
    after = submit(http, "custom_voice", text="Hola", speaker="Ryan", **FAST)
    assert wait_for(http, after, "completed", "failed")["status"] == "completed"
    assert status(http, long)["status"] == "cancelled"  # the worker never overwrote it


def test_jobs_pending_at_a_restart_all_complete(triton: TritonServer, log_dir: Path, db_url: str):
    kind = db_url.split(":", 1)[0].split("+")[0]
    first = job_api(triton.grpc_url, log_dir, db_url, f"jobs-restart-a-{kind}", job_shutdown_timeout_seconds="0")
    with first as a, httpx.Client(base_url=f"{a.url}/api/v1", timeout=60) as http:
        ids = [submit(http, "custom_voice", text=f"Hola {i}", speaker="Ryan", max_new_tokens=40) for i in range(8)]
        wait_for(http, ids[0], "processing", "completed")
    second = job_api(triton.grpc_url, log_dir, db_url, f"jobs-restart-b-{kind}")
    with second as b, httpx.Client(base_url=f"{b.url}/api/v1", timeout=60) as http:
        wait_all_finished(http, len(ids), timeout=120)
        jobs = [status(http, job_id) for job_id in ids]
    assert [job["status"] for job in jobs] == ["completed"] * len(ids)
    assert all(job["attempts"] == 1 for job in jobs), "a job released at shutdown does not count an attempt"
