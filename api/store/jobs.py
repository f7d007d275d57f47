"""Reads of the job queue (status, lists, queue position, SSE polls): plain functions on a session,
each one short transaction. Async code runs them with `database.in_session`; writes are in job_queue.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import load_only
from sqlmodel import Session, col, select

from api.store.job_table import Job, JobStatus

# Everything but the payloads (request audio, result audio): what status, lists and SSE polls read.
STATE_COLUMNS = (
    Job.seq,
    Job.id,
    Job.job_type,
    Job.status,
    Job.progress,
    Job.error,
    Job.error_type,
    Job.attempts,
    Job.version,
    Job.created_at,
    Job.updated_at,
    Job.started_at,
    Job.finished_at,
    Job.not_before,
    Job.worker_id,
    Job.idempotency_key,
    Job.request_sha256,
    Job.owner,
    Job.batch_id,
    Job.custom_id,
    Job.item_index,
    Job.file_name,
    Job.audio_seconds,
    Job.request_id,
)
SINGLE = col(Job.batch_id).is_(None)
"""Single jobs (POST /jobs): lists, positions and limits of /jobs count only these; batch items are
seen through their batch (batches.py)."""


def _state_query() -> Any:
    # populate_existing: a session that already holds the row (a request's) must see it as it is now.
    query = select(Job).options(load_only(*STATE_COLUMNS))  # type: ignore[arg-type]
    return query.execution_options(populate_existing=True)


def by_idempotency_key(session: Session, key: str) -> Job | None:
    with session.begin():
        return session.exec(_state_query().where(col(Job.idempotency_key) == key)).first()


def _owned(query: Any, owner: str | None) -> Any:
    """Only the jobs of this API key id (None: every job)."""
    return query if owner is None else query.where(col(Job.owner) == owner)


def get_state(session: Session, job_id: str, *, owner: str | None = None) -> Job | None:
    """The job without its payloads (cheap: the SSE stream polls this)."""
    with session.begin():
        return session.exec(_owned(_state_query().where(col(Job.id) == job_id), owner)).first()


def get_full(session: Session, job_id: str) -> Job | None:
    with session.begin():
        query = select(Job).where(col(Job.id) == job_id).execution_options(populate_existing=True)
        return session.exec(query).first()


def position(session: Session, seq: int) -> int:
    """1-based place of a pending single job in the FIFO (single jobs pending before it, plus itself)."""
    query = (
        select(func.count()).select_from(Job).where(col(Job.status) == JobStatus.PENDING, SINGLE, col(Job.seq) <= seq)
    )
    with session.begin():
        return int(session.exec(query).one())


def count(session: Session, status: str | None = None, *, owner: str | None = None) -> int:
    """Single jobs, in all or of one status and owner."""
    query = _owned(select(func.count()).select_from(Job).where(SINGLE), owner)
    if status is not None:
        query = query.where(col(Job.status) == status)
    with session.begin():
        return int(session.exec(query).one())


def counts_by_status(session: Session) -> dict[str, int]:
    """Jobs per status (statuses without jobs are absent): one grouped count, for the metrics."""
    query = select(Job.status, func.count()).group_by(col(Job.status))
    with session.begin():
        return {str(status): int(n) for status, n in session.exec(query).all()}


def list_jobs(
    session: Session, *, status: str | None, limit: int, offset: int, owner: str | None = None
) -> tuple[list[Job], int]:
    """A page of single jobs, newest first (by queue order, so pages never overlap), and the total."""
    query = _owned(_state_query().where(SINGLE), owner)
    if status is not None:
        query = query.where(col(Job.status) == status)
    query = query.order_by(col(Job.seq).desc()).offset(offset).limit(limit)
    with session.begin():
        jobs = list(session.exec(query).all())
    return jobs, count(session, status, owner=owner)


def holds(session: Session, job_id: str, worker_id: str) -> bool:
    """Whether the job is still running under this worker (not cancelled, deleted or re-claimed)."""
    query = select(Job.status, Job.worker_id).where(col(Job.id) == job_id)
    with session.begin():
        row = session.exec(query).first()
    return row is not None and row[0] == JobStatus.PROCESSING and row[1] == worker_id


def held(session: Session, job_ids: list[str], worker_id: str) -> set[str]:
    """Which of these jobs are still running under this worker: one query for all of a worker's jobs."""
    query = select(Job.id).where(
        col(Job.id).in_(job_ids), col(Job.worker_id) == worker_id, col(Job.status) == JobStatus.PROCESSING
    )
    with session.begin():
        return {str(job_id) for job_id in session.exec(query).all()}
