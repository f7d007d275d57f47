"""Several worker processes on one PostgreSQL queue: 200 jobs, each run exactly once; a worker
killed with SIGKILL mid-job, its job finished by the other once the lease expires."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from api.store.engine import create_db_engine
from devtools.servers import TritonServer
from tests.e2e.jobs.conftest import job_api, worker_process
from tests.e2e.jobs.jobs_client import status, submit, wait_all_finished, wait_for

pytestmark = pytest.mark.e2e
JOBS = 200


def job_rows(url: str) -> list[tuple[str, str, str | None, int]]:
    engine = create_db_engine(url, timeout_seconds=10)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT id, status, worker_id, attempts FROM jobs ORDER BY seq"))
            return [(row[0], row[1], row[2], row[3]) for row in rows]
    finally:
        engine.dispose()


def triton_successes(triton: TritonServer, model: str) -> int:
    stats = httpx.get(f"{triton.http_url}/v2/models/{model}/stats").json()["model_stats"][0]
    return int(stats["inference_stats"]["success"]["count"])


@pytest.fixture
def submit_only(triton: TritonServer, log_dir: Path, postgres_url: str) -> Iterator[httpx.Client]:
    """An API replica that only accepts jobs: the worker processes run them."""
    with (
        job_api(triton.grpc_url, log_dir, postgres_url, "jobs-submit-only", job_workers_enabled="false") as api,
        httpx.Client(base_url=f"{api.url}/api/v1", timeout=60) as http,
    ):
        yield http


def test_two_workers_run_each_of_200_jobs_exactly_once(
    triton: TritonServer, log_dir: Path, postgres_url: str, submit_only: httpx.Client
):
    before = triton_successes(triton, "custom_voice_1_7b")
    with ExitStack() as stack:
        for name in ("worker-a", "worker-b"):
            stack.enter_context(worker_process(triton.grpc_url, log_dir, postgres_url, name))
        started = time.monotonic()
        for i in range(JOBS):
            submit(submit_only, "custom_voice", text=f"Hola {i}", speaker="Ryan", max_new_tokens=2, temperature=0)
        wait_all_finished(submit_only, JOBS, timeout=400)
        elapsed = time.monotonic() - started
    rows = job_rows(postgres_url)
    assert len(rows) == JOBS and {row[1] for row in rows} == {"completed"}
    assert {row[3] for row in rows} == {1}, "no job was claimed twice"
    assert len({row[2] for row in rows}) == 2, "both workers took jobs"
    assert triton_successes(triton, "custom_voice_1_7b") - before == JOBS, "Triton ran each job once"
    print(f"{JOBS} jobs through 2 workers in {elapsed:.1f} s")


def test_a_killed_workers_job_is_finished_by_the_other_after_its_lease(
    triton: TritonServer, log_dir: Path, postgres_url: str, submit_only: httpx.Client, audio_host: str
):
    lease = {"job_lease_seconds": "2"}
    with (
        worker_process(triton.grpc_url, log_dir, postgres_url, "worker-kill-a", **lease) as a,
        worker_process(triton.grpc_url, log_dir, postgres_url, "worker-kill-b", **lease) as b,
    ):
        job_id = submit(submit_only, "voice_clone_url", text="Hola", ref_text="hola",
                        ref_audio_url=f"{audio_host}/slow.wav", max_new_tokens=12)  # fmt: skip
        wait_for(submit_only, job_id, "processing", timeout=30)
        holder = next(row[2] for row in job_rows(postgres_url) if row[0] == job_id)
        victim, survivor = (a, b) if f":{a.pid}:" in (holder or "") else (b, a)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait()
        job = wait_for(submit_only, job_id, "completed", "failed", timeout=60)
        assert job["status"] == "completed" and job["attempts"] == 2, job
        final_holder = next(row[2] for row in job_rows(postgres_url) if row[0] == job_id)
        assert f":{survivor.pid}:" in (final_holder or "")
        assert status(submit_only, job_id)["progress"]["stage"] == "completed"
