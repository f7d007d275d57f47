"""The worker loop: claim jobs, run them, record the outcome; renew each running job's lease and stop
its work as soon as the job is no longer its own (cancelled, deleted, or re-claimed after a lost
lease); purge old finished jobs and batches.

Two lanes share the loop. Single jobs (POST /jobs) are claimed in FIFO order, up to
`job_concurrency` at once (the contract's 1): a batch never delays their start, whatever its size.
Batch items (POST /batches) are claimed by their own lane, up to `batch_concurrency` at once per
worker and `batch_max_running_items` across all workers, fairly between API keys
(api/store/batch_queue.py): a batch fills the engine's rows, its items running concurrently.

Started by the API's lifespan when `job_workers_enabled`, or on its own (dedicated worker replicas):

    python -m api.jobs.worker        # same QWEN_TTS_* settings as the API

Shutdown is graceful: claiming stops at once, running jobs get `job_shutdown_timeout_seconds` to
finish, the rest are released (pending again, in their place, the attempt not counted).

A job whose attempt finds Triton unavailable (down, restarting, model not loaded, overloaded) goes
back to the queue, in its place, and is claimed again after a backoff (`job_retry_backoff_seconds`,
doubled per attempt, capped by `job_retry_backoff_max_seconds`), the attempt counted; once it has
had `job_max_attempts` attempts it fails with error_type "unavailable". Each attempt's end is
written by api/jobs/outcome.py.

Metrics (api/metrics/): the queue (api/store/job_queue.py) records waits, retries and abandoned
jobs at claim time; this loop records each attempt's duration by outcome, and every
`job_metrics_interval_seconds` reads the database's job counts, pending batch items and voice store
size into the gauges (the database's numbers, the same from every worker: aggregate with max).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Callable
from typing import Any

from api import logs, metrics, request_id
from api.errors import DATABASE_DOWN
from api.healing.healer import Healer
from api.inference.client import TritonGateway
from api.jobs.outcome import JobLostError, Outcomes
from api.jobs.runner import progress, run_job
from api.metrics.serving import collecting_registry
from api.settings import Settings
from api.store import batch_queue, batches, job_queue, voices
from api.store import jobs as store
from api.store.database import Database
from api.store.job_table import Job

log = logging.getLogger(__name__)


class JobWorker:
    def __init__(self, *, database: Database, triton: TritonGateway, settings: Settings):
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.database, self.triton, self.settings = database, triton, settings
        self._running: dict[str, asyncio.Task[Any]] = {}  # job id -> the task doing its work
        self._lane_of: dict[str, str] = {}  # job id -> "single" or "batch"
        self._executions: set[asyncio.Task[None]] = set()
        self._releasing: set[str] = set()
        self._wake = asyncio.Event()
        self._draining = False
        self._loop: asyncio.Task[None] | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self.outcomes = Outcomes(
            database=database, settings=settings, worker_id=self.worker_id, releasing=self._releasing
        )

    def start(self) -> None:
        self._loop = asyncio.create_task(self._claim_loop(), name="job-worker")
        self._watchdog = asyncio.create_task(self._watch(), name="job-leases")

    def wake(self) -> None:
        """A job was just submitted here: look now instead of at the next poll."""
        self._wake.set()

    def drain(self) -> None:
        """Stop claiming (running jobs go on)."""
        self._draining = True
        self._wake.set()

    async def stop(self, timeout: float) -> None:
        self.drain()
        if self._loop is not None:
            await self._loop
        if self._executions:
            await asyncio.wait(self._executions, timeout=timeout)
        for job_id, work in list(self._running.items()):
            log.warning("job %s did not finish within %.0f s of shutdown: released to the queue", job_id, timeout)
            self._releasing.add(job_id)
            work.cancel()
        if self._executions:
            await asyncio.wait(self._executions)
        if self._watchdog is not None:
            self._watchdog.cancel()

    async def _claim_loop(self) -> None:
        next_purge = next_gauges = 0.0
        while not self._draining:
            self._wake.clear()
            try:
                if time.monotonic() >= next_purge:
                    next_purge = time.monotonic() + self.settings.job_purge_interval_seconds
                    await self._purge()
                if time.monotonic() >= next_gauges:
                    next_gauges = time.monotonic() + self.settings.job_metrics_interval_seconds
                    await self.refresh_gauges()
                await self._fill()
            except DATABASE_DOWN as exc:
                log.warning("job queue: database unavailable, retrying: %s", exc)
            except Exception:
                log.exception("job queue: claim failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.job_poll_interval_seconds)

    def _lanes(self) -> list[tuple[str, int, Callable[..., list[Job]], dict[str, Any]]]:
        """(lane, slots, claim, extra arguments): single jobs first, FIFO; then batch items."""
        batch_cap = {"max_running": self.settings.batch_max_running_items}
        return [
            ("single", self.settings.job_concurrency, _claim_single, {}),
            ("batch", self.settings.batch_concurrency, batch_queue.claim_items, batch_cap),
        ]

    async def _fill(self) -> None:
        """Claim into the slots free at this moment, the lanes taking turns: a single job, then every
        free batch slot in one claim. Slots freed meanwhile wait for the next call (at once: a finished
        job wakes the loop), so a single job waits for at most one claim of the batch lane."""
        settings = self.settings
        budget = {name: slots - sum(1 for held in self._lane_of.values() if held == name)
                  for name, slots, _, _ in self._lanes()}  # fmt: skip
        while any(n > 0 for n in budget.values()) and not self._draining:
            for name, _, claim, extra in self._lanes():
                if budget[name] <= 0:
                    continue
                limit = budget[name] if name == "batch" else 1  # single jobs: one a round
                jobs = await self.database.in_session(
                    claim,
                    worker_id=self.worker_id,
                    lease_seconds=settings.job_lease_seconds,
                    max_attempts=settings.job_max_attempts,
                    limit=limit,
                    **extra,
                )
                budget[name] = budget[name] - limit if len(jobs) == limit else 0  # fewer: no more now
                for job in jobs:
                    self._start(job, name)

    def _start(self, job: Job, lane: str) -> None:
        log.info("job %s (%s, %s) claimed, attempt %d", job.id, job.job_type, lane, job.attempts)
        self._lane_of[job.id] = lane
        self._running[job.id] = asyncio.create_task(self._work(job), name=f"job-{job.id}")
        execution = asyncio.create_task(self._execute(job, claimed=time.monotonic()))
        self._executions.add(execution)
        execution.add_done_callback(self._executions.discard)

    async def _purge(self) -> None:
        older_than = time.time() - self.settings.job_result_ttl_seconds
        purged = await self.database.in_session(job_queue.purge, older_than=older_than)
        purged_batches = await self.database.in_session(batches.purge, older_than=older_than)
        if purged or purged_batches:
            ttl = self.settings.job_result_ttl_seconds
            log.info("purged %d finished jobs and %d batches older than %.0f s", purged, purged_batches, ttl)

    async def refresh_gauges(self) -> None:
        """Read the database's job counts by state, pending batch items and voice store size into the gauges."""

        def read(session: Any) -> tuple[dict[str, int], int, int]:
            return store.counts_by_status(session), batches.pending_items(session), voices.count_voices(session)

        counts, pending_items, cloned = await self.database.in_session(read)
        metrics.set_store_gauges(counts, cloned, pending_batch_items=pending_items)

    async def _work(self, job: Job) -> dict[str, Any]:
        request_id.use(job.request_id)  # its logs and Triton calls carry the submitting request's id

        async def report(stage: str, segments: tuple[int, int] | None = None) -> None:
            if job.batch_id is not None:  # a batch reports its items' counts, not their stages: no writes
                return
            try:
                held = await self.database.in_session(
                    job_queue.set_progress, job.id, worker_id=self.worker_id, progress=progress(stage, segments)
                )
            except DATABASE_DOWN as exc:  # progress only informs: the work goes on
                log.warning("job %s: progress %r not recorded, database unavailable: %s", job.id, stage, exc)
                return
            if not held:
                raise JobLostError

        return await run_job(job, triton=self.triton, settings=self.settings, database=self.database, report=report)

    async def _execute(self, job: Job, *, claimed: float) -> None:
        request_id.use(job.request_id)
        work = self._running[job.id]
        try:
            outcome = await self._record_patiently(job, work)
            if outcome is not None:
                metrics.observe_job_end(job.job_type, outcome, time.monotonic() - claimed)
        finally:
            self._running.pop(job.id, None)
            self._lane_of.pop(job.id, None)
            self._releasing.discard(job.id)
            self._wake.set()

    async def _record_patiently(self, job: Job, work: asyncio.Task[Any]) -> str | None:
        """`_record`, retried while the database is down (until shutdown): an outcome dropped would make
        the job run again once its lease expired. Every write is conditional on still holding the job."""
        warned = False
        while True:
            try:
                return await self.outcomes.record(job, work)
            except DATABASE_DOWN as exc:
                if self._draining:  # the lease expires and another attempt records it
                    log.error("job %s: could not record its outcome before shutdown: %s", job.id, exc)
                    return None
                if not warned:
                    log.warning("job %s: database unavailable, recording its outcome once it is back: %s", job.id, exc)
                    warned = True
                await asyncio.sleep(self.settings.job_poll_interval_seconds)

    async def _watch(self) -> None:
        """For every running job at once (one query per poll, however many run): renew the leases every
        third of a lease, and cancel the work (with its Triton calls) of a job that is no longer ours."""
        settings = self.settings
        renewed = time.monotonic()
        while True:
            await asyncio.sleep(settings.job_poll_interval_seconds)
            ids = list(self._running)
            if not ids:
                continue
            try:
                if time.monotonic() - renewed >= settings.job_lease_seconds / 3:
                    renewed = time.monotonic()
                    lease = settings.job_lease_seconds
                    held = await self.database.in_session(
                        job_queue.renew_all, ids, worker_id=self.worker_id, lease_seconds=lease
                    )
                else:
                    held = await self.database.in_session(store.held, ids, self.worker_id)
            except DATABASE_DOWN as exc:
                log.warning("lease check of %d jobs failed: %s", len(ids), exc)
                continue
            for job_id in set(ids) - held:
                if (work := self._running.get(job_id)) is not None:
                    work.cancel()


def _claim_single(session: Any, *, limit: int, **claim: Any) -> list[Job]:
    job = job_queue.claim(session, **claim)  # `limit` is 1: the FIFO's next single job
    return [] if job is None else [job]


def drain_on_signals(callback: Any) -> None:
    """Chain SIGTERM/SIGINT (uvicorn's handlers stay in charge) so a stopping server stops claiming
    and closes its SSE streams at once, instead of after every connection has ended."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        previous = signal.getsignal(sig)
        if not callable(previous):
            continue

        def handler(signum: int, frame: Any, previous: Any = previous) -> None:
            loop.call_soon_threadsafe(callback)
            previous(signum, frame)

        signal.signal(sig, handler)


async def main() -> None:
    settings = Settings()
    logs.configure(settings.log_format)
    database = Database(
        settings.database_url, timeout_seconds=settings.database_timeout_seconds, pool_size=settings.database_pool_size
    )
    database.migrate()
    triton = TritonGateway(
        settings.triton_url,
        timeout_seconds=settings.triton_timeout_seconds,
        connect_timeout_seconds=settings.triton_connect_timeout_seconds,
    )
    if settings.worker_metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.worker_metrics_port, registry=collecting_registry())
    worker = JobWorker(database=database, triton=triton, settings=settings)
    healer = Healer(triton=triton, database=database, settings=settings)  # its calls fail fast on a dead model too
    if settings.model_healing_enabled:
        healer.start()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set)
    worker.start()
    log.info("job worker %s started (concurrency %d)", worker.worker_id, settings.job_concurrency)
    await stop.wait()
    await worker.stop(settings.job_shutdown_timeout_seconds)
    await healer.stop()
    await triton.close()
    database.dispose()


if __name__ == "__main__":
    asyncio.run(main())
