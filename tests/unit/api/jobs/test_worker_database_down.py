"""The worker while the database is down (simulated at the worker's database calls, on real SQLite
and PostgreSQL): an outcome computed during the outage is kept and recorded once the database is
back, so the job runs once, not again after its lease expires; a progress update that cannot be
written does not fail the job; a job whose own work found the database down is retried, not failed."""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest
from sqlalchemy.exc import OperationalError

from api.inference.tensors import SynthesisCall
from api.jobs.worker import JobWorker
from api.settings import Settings
from api.store.database import Database
from api.store.job_table import JobStatus
from tests.unit.api.fakes import FakeTriton
from tests.unit.api.jobs.test_job_metrics import until
from tests.unit.api.store.test_job_queue import state, submit

OUTAGE_SECONDS = 1.5
LEASE_SECONDS = 0.6  # shorter than the outage: a dropped outcome would be claimed and run again


class Outage:
    """Makes every database call of the worker fail, as a crashed server would, while `down`."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch):
        self.down = False
        real = Database.in_session

        async def in_session(database: Database, fn: Any, *args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise OperationalError("SELECT 1", {}, ConnectionRefusedError("the database server is down"))
            return await real(database, fn, *args, **kwargs)

        monkeypatch.setattr(Database, "in_session", in_session)

    def start(self) -> None:
        self.down = True
        asyncio.get_running_loop().call_later(OUTAGE_SECONDS, setattr, self, "down", False)


class OutageDuringSynthesis(FakeTriton):
    """The database dies while Triton computes (the first time), or the work's own read fails."""

    def __init__(self, outage: Outage, *, work_hits_database: bool = False):
        super().__init__()
        self.outage, self.work_hits_database, self.calls = outage, work_hits_database, 0

    async def synthesize(self, model: str, call: SynthesisCall) -> tuple[np.ndarray, int]:
        self.calls += 1
        if self.calls == 1:
            if self.work_hits_database:  # a cloned voice's lookup inside the job lost its connection
                raise OperationalError("SELECT voices", {}, ConnectionResetError("server closed the connection"))
            self.outage.start()
        return np.zeros(2400, np.float32), 24000


def run(database: Database, triton: OutageDuringSynthesis) -> str:
    settings = Settings(
        database_url=database.url,
        job_poll_interval_seconds=0.05,
        job_lease_seconds=LEASE_SECONDS,
        job_retry_backoff_seconds=0.1,
        job_metrics_interval_seconds=60,
    )
    job = submit(database)

    async def scenario() -> None:
        worker = JobWorker(database=database, triton=triton, settings=settings)  # type: ignore[arg-type]
        worker.start()
        try:
            await until(lambda: _finished(database, job.id))
        finally:
            await worker.stop(5)

    asyncio.run(scenario())
    return job.id


async def _finished(database: Database, job_id: str) -> bool:
    job = await asyncio.to_thread(state, database, job_id)
    return job.status in JobStatus.FINISHED


def test_an_outcome_waits_for_the_database_and_the_job_runs_once(database: Database, monkeypatch: pytest.MonkeyPatch):
    triton = OutageDuringSynthesis(Outage(monkeypatch))
    job = state(database, run(database, triton))
    assert job.status == JobStatus.COMPLETED and job.error is None, (job.status, job.error)
    assert triton.calls == 1 and job.attempts == 1  # never claimed again, never run twice


def test_a_job_whose_work_found_the_database_down_is_retried(database: Database, monkeypatch: pytest.MonkeyPatch):
    triton = OutageDuringSynthesis(Outage(monkeypatch), work_hits_database=True)
    job = state(database, run(database, triton))
    assert job.status == JobStatus.COMPLETED and job.error is None, (job.status, job.error)
    assert triton.calls == 2 and job.attempts == 2  # retried like an unavailable Triton, not failed as "internal"
