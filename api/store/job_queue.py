"""The job queue's writes (submit, claim, renew, progress, complete, fail, release, cancel, delete,
purge): plain functions on a session, each ONE short transaction, safe across processes. Reads are
in jobs.py.

Claiming is the only contended step. On PostgreSQL the candidate row is picked with
`SELECT ... FOR UPDATE SKIP LOCKED` (replicas claiming at once each get a different row, nobody
waits); on SQLite every transaction takes the write lock first (`BEGIN IMMEDIATE`, engine.py).
Either way the claim is then a conditional UPDATE whose rowcount says whether it won.

A claim is a lease: a job whose worker stops renewing it (killed, partitioned) is claimed again
once `lease_expires_at` passes, until it has been attempted `max_attempts` times; then it fails.
A job whose attempt found Triton unavailable is given back with `retry_later`: pending again, in its
place, not claimed before its `not_before` time, the attempt counted.
Worker-side writes (progress, complete, fail, release, renew) only apply while the row is still
`processing` and held by that worker: a cancelled, deleted or re-claimed job is never overwritten.

Times are epoch seconds from the caller's clock (`now`): replicas need synchronised clocks (NTP),
well within a lease. Blocking calls: async code runs them with `Database.in_session`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api import metrics
from api.store.job_table import Job, JobStatus
from api.store.jobs import by_idempotency_key, get_state

ABANDONED = "the job was abandoned by its worker {n} times (worker died or lost the database); giving up"


def now_or(now: float | None) -> float:
    return time.time() if now is None else now


def submit(session: Session, job: Job) -> tuple[Job, bool]:
    """Insert a pending job; with an idempotency key already used, the existing job and False.
    The unique constraint decides between concurrent retries: the loser reads the winner's row."""
    try:
        with session.begin():
            session.add(job)
    except IntegrityError:
        if job.idempotency_key is None:
            raise
        existing = by_idempotency_key(session, job.idempotency_key)
        if existing is None:  # deleted between our insert and this read: extremely unlikely
            raise
        return existing, False
    return job, True


def fail_exhausted(session: Session, *, max_attempts: int, now: float) -> list[tuple[str, float]]:
    """Expired leases of jobs already attempted max_attempts times: failed, with the reason. Returns
    each one's job type and the duration of its last attempt (for the metrics, once committed)."""
    expired = select(Job).where(
        col(Job.status) == JobStatus.PROCESSING, col(Job.lease_expires_at) < now, col(Job.attempts) >= max_attempts
    )
    failed = []
    for job in session.exec(expired.with_for_update(skip_locked=True)).all():
        failed.append((job.job_type, now - (job.started_at or now)))
        _finish(job, JobStatus.FAILED, now, error=ABANDONED.format(n=job.attempts), error_type="abandoned")
    return failed


def due(now: float) -> Any:
    """A pending job whose retry delay (`not_before`) has passed, or that has none."""
    return or_(col(Job.not_before).is_(None), col(Job.not_before) <= now)


def _candidate(session: Session, now: float) -> Job | None:
    """The first claimable single job: an expired lease (it was queued earlier), else the oldest
    pending one whose retry delay (`not_before`) has passed."""
    single = col(Job.batch_id).is_(None)  # batch items are the batch lane's (batch_queue.py)
    expired = select(Job).where(col(Job.status) == JobStatus.PROCESSING, single, col(Job.lease_expires_at) < now)
    pending = select(Job).where(col(Job.status) == JobStatus.PENDING, single, due(now))
    for query in (expired, pending):
        found = session.exec(query.order_by(col(Job.seq)).limit(1).with_for_update(skip_locked=True)).first()
        if found is not None:
            return found
    return None


def claim(
    session: Session, *, worker_id: str, lease_seconds: float, max_attempts: int, now: float | None = None
) -> Job | None:
    """Take the next single job (FIFO) under a lease; None when the queue is empty or another worker won."""
    jobs = claim_up_to(session, _candidate, 1, worker_id=worker_id, lease_seconds=lease_seconds,
                       max_attempts=max_attempts, now=now)  # fmt: skip
    return jobs[0] if jobs else None


def claim_up_to(
    session: Session,
    pick: Callable[[Session, float], Job | None],
    limit: int,
    *,
    worker_id: str,
    lease_seconds: float,
    max_attempts: int,
    now: float | None = None,
) -> list[Job]:
    """Take up to `limit` jobs under a lease, each the one `pick` chooses once the ones before are
    taken, in one transaction that first fails the jobs whose attempts ran out; fewer (none) when it
    chose none or another worker won it. One transaction for several: a claim's fixed cost (the
    lock, the expired-attempts sweep, a picker's counts) is paid once.

    Metrics, once the transaction has committed: a claim of a pending job records its wait since
    submission, a re-claim after an expired lease or a retry delay counts as a retry, jobs failed
    here as abandoned record their last attempt's duration."""
    now = now_or(now)
    claimed: list[tuple[Job, bool]] = []
    with session.begin():
        abandoned = fail_exhausted(session, max_attempts=max_attempts, now=now)
        while len(claimed) < limit and (job := pick(session, now)) is not None:
            # an expired lease, or a job given back by retry_later (a shutdown's release uncounts its attempt)
            retry = job.status == JobStatus.PROCESSING or job.attempts > 0
            if take(session, job, worker_id=worker_id, lease_seconds=lease_seconds, now=now) != 1:
                break
            session.expire(job)
            session.refresh(job)
            claimed.append((job, retry))
    for job_type, seconds in abandoned:
        metrics.observe_job_end(job_type, "failed", seconds)
    for job, retry in claimed:
        metrics.observe_job_claim(job.job_type, waited_seconds=now - job.created_at, retry=retry)
    return [job for job, _ in claimed]


def take(session: Session, job: Job, *, worker_id: str, lease_seconds: float, now: float) -> int:
    """The claim's conditional UPDATE of the candidate: 1 when this worker won it."""
    claimable = or_(col(Job.status) == JobStatus.PENDING, col(Job.lease_expires_at) < now)
    # the contract's stage once a worker has the job: it checks (or loads) the model first
    progress = {"stage": "loading_model", "percent": 15, "message": "Cargando modelo...", "timestamp": now}
    progress["percent_is_estimate"] = True
    won = session.exec(
        update(Job)
        .where(col(Job.seq) == job.seq, col(Job.status) == job.status, claimable)
        .values(
            status=JobStatus.PROCESSING,
            worker_id=worker_id,
            lease_expires_at=now + lease_seconds,
            attempts=col(Job.attempts) + 1,
            started_at=now,
            updated_at=now,
            progress=progress,
            not_before=None,
            version=col(Job.version) + 1,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    return int(won)


def _held(job_id: str, worker_id: str) -> Any:
    return update(Job).where(
        col(Job.id) == job_id, col(Job.worker_id) == worker_id, col(Job.status) == JobStatus.PROCESSING
    )


def _apply(session: Session, statement: Any) -> bool:
    with session.begin():
        return bool(session.exec(statement.execution_options(synchronize_session=False)).rowcount)


def renew(session: Session, job_id: str, *, worker_id: str, lease_seconds: float, now: float | None = None) -> bool:
    """Extend the lease; False: the job is no longer this worker's (cancelled, deleted, re-claimed)."""
    now = now_or(now)
    return _apply(session, _held(job_id, worker_id).values(lease_expires_at=now + lease_seconds))


def renew_all(
    session: Session, job_ids: list[str], *, worker_id: str, lease_seconds: float, now: float | None = None
) -> set[str]:
    """Extend the leases of these jobs; the ids still this worker's (the others were cancelled,
    deleted or re-claimed)."""
    now = now_or(now)
    mine = (col(Job.id).in_(job_ids), col(Job.worker_id) == worker_id, col(Job.status) == JobStatus.PROCESSING)
    with session.begin():
        session.exec(update(Job).where(*mine).values(lease_expires_at=now + lease_seconds))
        return {str(job_id) for job_id in session.exec(select(Job.id).where(*mine)).all()}


def set_progress(session: Session, job_id: str, *, worker_id: str, progress: dict[str, Any]) -> bool:
    stamp = float(progress["timestamp"])
    values = {"progress": progress, "updated_at": stamp, "version": col(Job.version) + 1}
    return _apply(session, _held(job_id, worker_id).values(**values))


def end_values(status: str, now: float, message: str, **extra: Any) -> dict[str, Any]:
    progress = {
        "stage": status,  # completed, failed or cancelled
        "percent": 100 if status == JobStatus.COMPLETED else 0,
        "message": message,
        "timestamp": now,
    }
    return {
        "status": status,
        "progress": progress,
        "finished_at": now,
        "updated_at": now,
        "lease_expires_at": None,
        "version": col(Job.version) + 1,
        **extra,
    }


def _finish(job: Job, status: str, now: float, **extra: Any) -> None:
    for name, value in end_values(status, now, extra.get("error") or status, **extra).items():
        setattr(job, name, job.version + 1 if name == "version" else value)


def complete(
    session: Session, job_id: str, *, worker_id: str, result: dict[str, Any], now: float | None = None
) -> bool:
    seconds = result.get("duration_seconds")
    audio_seconds = float(seconds) if isinstance(seconds, int | float) else None
    values = end_values(JobStatus.COMPLETED, now_or(now), "Audio generado", result=result, audio_seconds=audio_seconds)
    return _apply(session, _held(job_id, worker_id).values(**values))


def fail(
    session: Session, job_id: str, *, worker_id: str, error: str, error_type: str, now: float | None = None
) -> bool:
    values = end_values(JobStatus.FAILED, now_or(now), error, error=error, error_type=error_type)
    return _apply(session, _held(job_id, worker_id).values(**values))


def release(session: Session, job_id: str, *, worker_id: str, now: float | None = None) -> bool:
    """Give a running job back (graceful shutdown): pending again, in its place, attempt not counted."""
    now = now_or(now)
    progress = {"stage": "queued", "percent": 0, "message": "Devuelto a la cola", "timestamp": now}
    values = {
        "status": JobStatus.PENDING,
        "worker_id": None,
        "lease_expires_at": None,
        "started_at": None,
        "attempts": col(Job.attempts) - 1,
        "progress": progress,
        "updated_at": now,
        "version": col(Job.version) + 1,
    }
    return _apply(session, _held(job_id, worker_id).values(**values))


def retry_later(
    session: Session,
    job_id: str,
    *,
    worker_id: str,
    not_before: float,
    reason: str,
    count_attempt: bool = True,
    now: float | None = None,
) -> bool:
    """Give a running job back for another attempt (Triton was unavailable): pending again, in its
    place, not claimed before `not_before`, this attempt counted (unlike `release`) unless
    `count_attempt` is False (its model died under it and is being reloaded: not the job's fault)."""
    now = now_or(now)
    message = f"Reintentando en {max(0.0, not_before - now):.0f} s: {reason}"
    progress = {"stage": "queued", "percent": 0, "message": message, "timestamp": now}
    values = {
        "status": JobStatus.PENDING,
        "worker_id": None,
        "lease_expires_at": None,
        "started_at": None,
        "not_before": not_before,
        "attempts": col(Job.attempts) - (0 if count_attempt else 1),
        "progress": progress,
        "updated_at": now,
        "version": col(Job.version) + 1,
    }
    return _apply(session, _held(job_id, worker_id).values(**values))


def cancel(session: Session, job_id: str, *, now: float | None = None) -> tuple[bool, Job | None]:
    """Cancel a pending or running job (its worker notices and stops the work): whether this call
    cancelled it, and the job as it is now (None: no such job; finished: left as it was)."""
    values = end_values(JobStatus.CANCELLED, now_or(now), "Job cancelado")
    active = col(Job.status).in_([JobStatus.PENDING, JobStatus.PROCESSING])
    cancelled = _apply(session, update(Job).where(col(Job.id) == job_id, active).values(**values))
    return cancelled, get_state(session, job_id)


def delete_job(session: Session, job_id: str) -> bool:
    """Remove a job for good; a running one is stopped by its worker, which finds it gone."""
    with session.begin():
        return bool(session.exec(delete(Job).where(col(Job.id) == job_id)).rowcount)


def purge(session: Session, *, older_than: float) -> int:
    """Delete finished single jobs (results and all) that finished before `older_than` (batch items go
    with their batch: batches.purge)."""
    finished = col(Job.status).in_(JobStatus.FINISHED)
    statement = delete(Job).where(finished, col(Job.batch_id).is_(None), col(Job.finished_at) < older_than)
    with session.begin():
        return int(session.exec(statement).rowcount)
