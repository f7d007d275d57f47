"""How one attempt of a job ended, written to the queue: completed; failed (the client's error, or
ours); back to the queue after a backoff when Triton (or the database, for the work's own reads) was
unavailable, until `job_max_attempts` attempts; released at shutdown; or nothing, when the job
stopped being this worker's (cancelled, deleted, re-claimed). Every write is conditional on the
worker still holding the job (api/store/job_queue.py)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from api.errors import DATABASE_DOWN, ApiError, ModelDownError, UnavailableError
from api.settings import Settings
from api.store import job_queue
from api.store import jobs as store
from api.store.database import Database
from api.store.job_table import Job, JobStatus

log = logging.getLogger(__name__)


class JobLostError(Exception):
    """The job stopped being this worker's while it ran: nothing more to record."""


class Outcomes:
    """The outcome writes of one worker (`worker_id`); `releasing`: the ids of the jobs its shutdown
    is giving back to the queue."""

    def __init__(self, *, database: Database, settings: Settings, worker_id: str, releasing: set[str]):
        self.database, self.settings, self.worker_id, self._releasing = database, settings, worker_id, releasing

    async def record(self, job: Job, work: asyncio.Task[Any]) -> str | None:
        """Wait for the work and store its outcome (unless the job is no longer ours). Returns how the
        attempt ended (completed, failed, cancelled, retried), or None when it did not end the job
        (released at shutdown, re-claimed by another worker after a lost lease)."""
        done = {"worker_id": self.worker_id}
        try:
            result = await work
        except (asyncio.CancelledError, JobLostError):
            if job.id in self._releasing:
                await self.database.in_session(job_queue.release, job.id, **done)
                return None
            log.info("job %s stopped: cancelled, deleted or taken over", job.id)
            return await self._lost(job)
        except UnavailableError as exc:
            return await self._unavailable(job, exc)
        except DATABASE_DOWN as exc:  # the work itself read the store (a cloned voice): retried, as for Triton
            return await self._unavailable(job, UnavailableError(f"the database is unavailable ({type(exc).__name__})"))
        except ApiError as exc:
            log.info("job %s failed (%s): %s", job.id, exc.kind, exc.message)  # the client's problem: info
            failed = await self.database.in_session(
                job_queue.fail, job.id, error=exc.message, error_type=exc.kind, **done
            )
        except Exception as exc:
            log.exception("job %s failed", job.id)
            error = f"internal error: {type(exc).__name__}"
            failed = await self.database.in_session(job_queue.fail, job.id, error=error, error_type="internal", **done)
        else:
            if await self.database.in_session(job_queue.complete, job.id, result=result, **done):
                return JobStatus.COMPLETED
            return await self._lost(job)
        return JobStatus.FAILED if failed else await self._lost(job)

    def retry_delay(self, attempts: int) -> float:
        """Backoff before the next attempt of a job that has had `attempts` attempts."""
        settings = self.settings
        return min(
            settings.job_retry_backoff_seconds * 2 ** max(0, attempts - 1), settings.job_retry_backoff_max_seconds
        )

    async def _unavailable(self, job: Job, exc: UnavailableError) -> str | None:
        """Triton was unavailable: back to the queue after a backoff, or failed once out of attempts."""
        done = {"worker_id": self.worker_id}
        max_attempts = self.settings.job_max_attempts
        if isinstance(exc, ModelDownError):  # the healer is bringing its model back: wait, attempt not counted
            log.warning("job %s: %s; back to the queue for %.0f s", job.id, exc.message, exc.retry_after)
            not_before = time.time() + exc.retry_after
            retried = await self.database.in_session(
                job_queue.retry_later, job.id, not_before=not_before, reason=exc.message, count_attempt=False, **done
            )
            return "retried" if retried else await self._lost(job)
        if job.attempts < max_attempts:
            delay = self.retry_delay(job.attempts)
            log.warning(
                "job %s: inference server unavailable (attempt %d of %d), retrying in %.1f s: %s",
                job.id, job.attempts, max_attempts, delay, exc.message,
            )  # fmt: skip
            retried = await self.database.in_session(
                job_queue.retry_later, job.id, not_before=time.time() + delay, reason=exc.message, **done
            )
            if retried:
                return "retried"
            return await self._lost(job)
        error = f"the inference server was unavailable on all {job.attempts} attempts; giving up: {exc.message}"
        log.error("job %s failed: %s", job.id, error)
        failed = await self.database.in_session(job_queue.fail, job.id, error=error, error_type=exc.kind, **done)
        return JobStatus.FAILED if failed else await self._lost(job)

    async def _lost(self, job: Job) -> str | None:
        """The job stopped being ours: cancelled (or deleted, which stops it the same way), or None
        when another worker holds it now (its own attempt will be recorded there)."""
        current = await self.database.in_session(store.get_state, job.id)
        if current is None or current.status == JobStatus.CANCELLED:
            return JobStatus.CANCELLED
        return None
