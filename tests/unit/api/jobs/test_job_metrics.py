"""The job metrics on real SQLite and PostgreSQL: queue wait, retries and abandoned jobs observed
where the queue claims, each attempt's duration by outcome observed by the worker loop running
real jobs (fake Triton), and the gauges read from the database by the worker's periodic tick."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import numpy as np
from prometheus_client import REGISTRY

from api import metrics
from api.errors import BackendError
from api.inference.tensors import SynthesisCall
from api.jobs.worker import JobWorker
from api.settings import Settings
from api.store import job_queue
from api.store import jobs as store
from api.store.database import Database
from api.store.job_table import Job, JobStatus
from api.store.tables import Voice
from tests.unit.api.fakes import FakeTriton
from tests.unit.api.store.test_job_queue import LEASE, claim, new_job, state, submit


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def waits() -> float:
    return value("qwen_tts_job_queue_wait_seconds_count", job_type="custom_voice")


def wait_sum() -> float:
    return value("qwen_tts_job_queue_wait_seconds_sum", job_type="custom_voice")


def ended(outcome: str) -> float:
    return value("qwen_tts_job_duration_seconds_count", job_type="custom_voice", outcome=outcome)


def retries() -> float:
    return value("qwen_tts_job_retries_total", job_type="custom_voice")


def test_claim_records_the_wait_and_a_reclaim_counts_as_a_retry(database: Database):
    before_wait, before_sum, before_retries = waits(), wait_sum(), retries()
    job = submit(database)
    start = job.created_at + 5.0  # claimed 5 s after its submission
    assert claim(database, "dead", now=start) is not None
    assert waits() == before_wait + 1 and retries() == before_retries
    assert abs(wait_sum() - before_sum - 5.0) < 1e-6
    # the claim took it: an empty queue records nothing more
    assert claim(database, "other", now=start + 1) is None and waits() == before_wait + 1
    again = claim(database, "other", now=start + LEASE + 1)  # the lease expired: claimed again
    assert again is not None and again.id == job.id
    assert retries() == before_retries + 1 and waits() == before_wait + 1


def test_abandoned_job_records_a_failed_attempt(database: Database):
    job = submit(database)
    start = time.time()
    assert claim(database, "a", now=start, max_attempts=1) is not None
    before = ended("failed")
    assert claim(database, "b", now=start + LEASE + 1, max_attempts=1) is None
    assert state(database, job.id).status == JobStatus.FAILED
    assert ended("failed") == before + 1


class ScriptedTriton(FakeTriton):
    """Synthesis that succeeds, fails, or hangs (until cancelled), by the request's text."""

    async def synthesize(self, model: str, call: SynthesisCall) -> tuple[np.ndarray, int]:
        text = call.text or ""
        if "fail" in text:
            raise BackendError("the engine broke")
        if "hang" in text:
            await asyncio.sleep(60)
        return np.zeros(2400, np.float32), 24000


def add_voice(database: Database, voice_id: str) -> None:
    with database.session() as session, session.begin():
        session.add(
            Voice(id=voice_id, name=voice_id, ref_text="hola", language="Spanish", created_at=datetime.now(UTC))
        )


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def test_worker_records_durations_by_outcome_and_the_database_gauges(database: Database):
    settings = Settings(
        database_url=database.url, job_poll_interval_seconds=0.05, job_metrics_interval_seconds=0.1, job_lease_seconds=5
    )

    async def scenario() -> None:
        worker = JobWorker(database=database, triton=ScriptedTriton(), settings=settings)  # type: ignore[arg-type]
        before = {outcome: ended(outcome) for outcome in metrics.JOB_OUTCOMES}

        async def finished(job_id: str) -> bool:
            job = await database.in_session(store.get_state, job_id)
            return job is not None and job.status in JobStatus.FINISHED

        async def submitted(text: str) -> Job:
            job, _ = await database.in_session(job_queue.submit, new_job(text=text))
            return job

        worker.start()
        try:
            ok, bad = await submitted("hola"), await submitted("please fail")
            await until(lambda: finished(ok.id))
            await until(lambda: finished(bad.id))
            hanging = await submitted("hang on")
            await until(lambda: _status_is(database, hanging.id, JobStatus.PROCESSING))
            await database.in_session(job_queue.cancel, hanging.id)
            await until(lambda: _true(ended("cancelled") == before["cancelled"] + 1))
            assert ended("completed") == before["completed"] + 1
            assert ended("failed") == before["failed"] + 1
            # the loop's tick reads the database into the gauges
            add_voice(database, "v1")
            await until(lambda: _true(value("qwen_tts_cloned_voices") == 1))
            assert value("qwen_tts_jobs", state="completed") == 1 and value("qwen_tts_jobs_queue_depth") == 0
        finally:
            await worker.stop(5)
        add_voice(database, "v2")
        await submitted("still pending")  # no worker claims it any more
        await worker.refresh_gauges()
        counts = await database.in_session(store.counts_by_status)
        assert counts == {"completed": 1, "failed": 1, "cancelled": 1, "pending": 1}
        for job_state in metrics.JOB_STATES:
            assert value("qwen_tts_jobs", state=job_state) == counts.get(job_state, 0)
        assert value("qwen_tts_jobs_queue_depth") == counts.get("pending", 0)
        assert value("qwen_tts_cloned_voices") == 2

    asyncio.run(scenario())


async def _status_is(database: Database, job_id: str, status: str) -> bool:
    job = await database.in_session(store.get_state, job_id)
    return job is not None and job.status == status


async def _true(condition: bool) -> bool:
    return condition


def test_gauges_count_every_state_and_default_missing_ones_to_zero():
    metrics.set_store_gauges({"pending": 7, "completed": 2}, 3)
    assert value("qwen_tts_jobs_queue_depth") == 7
    assert value("qwen_tts_jobs", state="pending") == 7 and value("qwen_tts_jobs", state="failed") == 0
    assert value("qwen_tts_cloned_voices") == 3
