"""The batches' data: a batch and its items (jobs) written in one transaction, their counts, pages
of items, cancel, delete, purge. Plain functions on a session, each one short transaction; claiming
items is batch_queue.py's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, delete, func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import load_only
from sqlmodel import Session, col, select

from api.store import job_queue
from api.store.batch_table import Batch, BatchStatus
from api.store.job_table import Job, JobStatus
from api.store.jobs import STATE_COLUMNS

ACTIVE = (JobStatus.PENDING, JobStatus.PROCESSING)


@dataclass
class Counts:
    """A batch's items by status, and the seconds of audio of its completed ones."""

    by_status: dict[str, int] = field(default_factory=dict)
    audio_seconds: float = 0.0

    def status_of(self, batch: Batch) -> str:
        if batch.cancelled_at is not None:
            return BatchStatus.CANCELLED
        if not any(self.by_status.get(status) for status in ACTIVE):
            return BatchStatus.COMPLETED
        return BatchStatus.PENDING if self.by_status.get(JobStatus.PENDING) == batch.total else BatchStatus.PROCESSING


def by_idempotency_key(session: Session, key: str) -> Batch | None:
    with session.begin():
        return session.exec(select(Batch).where(col(Batch.idempotency_key) == key)).first()


def create(session: Session, batch: Batch, items: list[dict[str, Any]]) -> tuple[Batch, bool]:
    """Insert the batch and its items (column values of `jobs`) at once; with an idempotency key
    already used, the existing batch and False (the unique constraint decides between retries)."""
    try:
        with session.begin():
            session.add(batch)
            session.execute(insert(Job), items)  # one multi-row INSERT per page of rows
    except IntegrityError:
        if batch.idempotency_key is None:
            raise
        existing = by_idempotency_key(session, batch.idempotency_key)
        if existing is None:
            raise
        return existing, False
    return batch, True


def get(session: Session, batch_id: str, *, owner: str | None = None) -> Batch | None:
    query = select(Batch).where(col(Batch.id) == batch_id).execution_options(populate_existing=True)
    if owner is not None:
        query = query.where(col(Batch.owner) == owner)
    with session.begin():
        return session.exec(query).first()


def counts(session: Session, batch_ids: list[str]) -> dict[str, Counts]:
    """Each batch's counts: one grouped query (index ix_jobs_batch_status)."""
    query = (
        select(Job.batch_id, Job.status, func.count(), func.coalesce(func.sum(Job.audio_seconds), 0.0))
        .where(col(Job.batch_id).in_(batch_ids))
        .group_by(col(Job.batch_id), col(Job.status))
    )
    found: dict[str, Counts] = {batch_id: Counts() for batch_id in batch_ids}
    with session.begin():
        for batch_id, status, n, seconds in session.exec(query).all():
            found[str(batch_id)].by_status[str(status)] = int(n)
            found[str(batch_id)].audio_seconds += float(seconds or 0.0)
    return found


def list_batches(session: Session, *, owner: str | None, limit: int, offset: int) -> tuple[list[Batch], int]:
    """A page of batches, newest first, and the total."""
    query = select(Batch)
    total = select(func.count()).select_from(Batch)
    if owner is not None:
        query, total = query.where(col(Batch.owner) == owner), total.where(col(Batch.owner) == owner)
    with session.begin():
        page = list(session.exec(query.order_by(col(Batch.seq).desc()).offset(offset).limit(limit)).all())
        return page, int(session.exec(total).one())


def items(
    session: Session,
    batch_id: str,
    *,
    after: int = -1,
    limit: int = 100,
    status: str | None = None,
    results: bool = False,
) -> list[Job]:
    """A page of a batch's items in their order (by `item_index`, after the index `after`); their
    results (the audio) only when asked: a page of state alone is cheap."""
    query = select(Job) if results else select(Job).options(load_only(*STATE_COLUMNS))  # type: ignore[arg-type]
    query = query.where(col(Job.batch_id) == batch_id, col(Job.item_index) > after)
    if status is not None:
        query = query.where(col(Job.status) == status)
    with session.begin():
        return list(session.exec(query.order_by(col(Job.item_index)).limit(limit)).all())


def pending_items(session: Session, *, owner: str | None = None) -> int:
    """Pending batch items, in all or of one API key: the submission limits and the pending-items gauge."""
    query = select(func.count()).select_from(Job).where(col(Job.status) == JobStatus.PENDING)
    query = query.where(col(Job.batch_id).is_not(None))
    if owner is not None:
        query = query.where(col(Job.owner) == owner)
    with session.begin():
        return int(session.exec(query).one())


def cancel(session: Session, batch_id: str, *, now: float) -> bool:
    """Cancel the batch and its pending and running items (their workers notice and stop); False when
    it was cancelled already. Finished items keep their outcome."""
    values = job_queue.end_values(JobStatus.CANCELLED, now, "Lote cancelado")
    with session.begin():
        marked = session.exec(
            update(Batch).where(col(Batch.id) == batch_id, col(Batch.cancelled_at).is_(None)).values(cancelled_at=now)
        ).rowcount
        session.exec(update(Job).where(col(Job.batch_id) == batch_id, col(Job.status).in_(ACTIVE)).values(**values))
    return bool(marked)


def delete_batch(session: Session, batch_id: str) -> bool:
    """Remove a batch and its items for good; running ones are stopped by their workers."""
    with session.begin():
        session.exec(delete(Job).where(col(Job.batch_id) == batch_id))
        return bool(session.exec(delete(Batch).where(col(Batch.id) == batch_id)).rowcount)


def purge(session: Session, *, older_than: float) -> int:
    """Delete batches whose items have all finished, the last before `older_than` (with the items).
    A batch's items are never purged one by one: its results stay whole until the batch is purged."""
    unfinished = func.sum(case((col(Job.status).in_(ACTIVE), 1), else_=0))
    done = (
        select(Job.batch_id)
        .where(col(Job.batch_id).is_not(None))
        .group_by(col(Job.batch_id))
        .having(unfinished == 0, func.max(Job.finished_at) < older_than)
    )
    with session.begin():
        batch_ids = [str(batch_id) for batch_id in session.exec(done).all()]
        if batch_ids:
            session.exec(delete(Job).where(col(Job.batch_id).in_(batch_ids)))
            session.exec(delete(Batch).where(col(Batch.id).in_(batch_ids)))
    return len(batch_ids)
