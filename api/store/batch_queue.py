"""Claiming batch items: the batch lane of the durable queue, fair between submitters.

Single jobs (POST /jobs) keep their FIFO of one (job_queue.py claims only them); batch items are
claimed here, by the same lease protocol (job_queue.take: leases, renewals, retries, abandonment
are the same), in this order:
1. an item whose worker died (lease expired) is taken again first: it was started earlier;
2. otherwise the next item goes to the SUBMITTER (API key; no key is one submitter) with the fewest
   items running now, ties to the one waiting longest; within that submitter to its batch with the
   fewest running, ties to the oldest; within the batch, items in their order.
So a key with a 10,000-item batch and a key with 10 items share the running slots evenly (max-min
fair share), and one key's second batch does not wait for its first to finish. A worker with
several free slots claims them in one transaction (`claim_items`), each item chosen in that order
as if claimed alone after the ones before it.

At most `max_running` batch items run at once across every worker (the rows of the engine the
batch lane may fill; single jobs and synchronous requests keep the rest). On PostgreSQL the claim
takes a transaction-level advisory lock so that two replicas never both see a free slot; on SQLite
the write lock every transaction takes does the same (engine.py).
"""

from __future__ import annotations

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from api.store.job_queue import claim_up_to, due
from api.store.job_table import Job, JobStatus

_CLAIM_LOCK_KEY = 0x51_54_54_53_42_41_54  # any constant, the same in every replica

Key = tuple[str | None, str]  # (owner, batch id)


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.exec(text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=_CLAIM_LOCK_KEY))  # type: ignore[call-overload]


def _running(session: Session, now: float) -> dict[Key, int]:
    """Batch items running under a live lease, by (owner, batch)."""
    query = (
        select(Job.owner, Job.batch_id, func.count())
        .where(col(Job.status) == JobStatus.PROCESSING, col(Job.batch_id).is_not(None))
        .where(col(Job.lease_expires_at) >= now)
        .group_by(col(Job.owner), col(Job.batch_id))
    )
    return {(owner, str(batch_id)): int(n) for owner, batch_id, n in session.exec(query).all()}


def _waiting(session: Session, now: float) -> dict[Key, int]:
    """Batches with items ready to start, by (owner, batch): the queue order of their next item."""
    query = (
        select(Job.owner, Job.batch_id, func.min(Job.seq))
        .where(col(Job.status) == JobStatus.PENDING, col(Job.batch_id).is_not(None), due(now))
        .group_by(col(Job.owner), col(Job.batch_id))
    )
    return {(owner, str(batch_id)): int(seq or 0) for owner, batch_id, seq in session.exec(query).all()}


def _order(running: dict[Key, int], waiting: dict[Key, int]) -> Key | None:
    """The batch whose next item starts: fewest running for its owner, then for the batch, then oldest."""
    if not waiting:
        return None
    by_owner: dict[str | None, int] = {}
    for (owner, _), n in running.items():
        by_owner[owner] = by_owner.get(owner, 0) + n
    first_seq: dict[str | None, int] = {}
    for (owner, _), seq in waiting.items():
        first_seq[owner] = min(seq, first_seq.get(owner, seq))

    def order(key: Key) -> tuple[int, int, int, int]:
        owner = key[0]
        return (by_owner.get(owner, 0), first_seq[owner], running.get(key, 0), waiting[key])

    return min(waiting, key=order)


def choose(running: dict[Key, int], waiting: dict[Key, int]) -> str | None:
    """The batch id of `_order`'s choice."""
    key = _order(running, waiting)
    return None if key is None else key[1]


class _Picker:
    """Items in the module's order, one after another in one transaction: the running and waiting
    counts are read once (under the lock), then kept up to date with each item taken."""

    def __init__(self, max_running: int) -> None:
        self.max_running = max_running
        self.counts: tuple[dict[Key, int], dict[Key, int]] | None = None

    def __call__(self, session: Session, now: float) -> Job | None:
        if self.counts is None:
            _lock(session)
            self.counts = _running(session, now), _waiting(session, now)
        running = self.counts[0]
        expired = select(Job).where(
            col(Job.status) == JobStatus.PROCESSING, col(Job.batch_id).is_not(None), col(Job.lease_expires_at) < now
        )
        job = session.exec(expired.order_by(col(Job.seq)).limit(1).with_for_update(skip_locked=True)).first()
        if job is None:
            job = self._next_pending(session, now)
        if job is not None:  # running from now on
            key = (job.owner, str(job.batch_id))
            running[key] = running.get(key, 0) + 1
        return job

    def _next_pending(self, session: Session, now: float) -> Job | None:
        assert self.counts is not None
        running, waiting = self.counts
        while sum(running.values()) < self.max_running and (key := _order(running, waiting)) is not None:
            pending = select(Job).where(col(Job.batch_id) == key[1], col(Job.status) == JobStatus.PENDING, due(now))
            # this item and the next one: the batch's place in the order once this one is taken
            found = session.exec(pending.order_by(col(Job.seq)).limit(2).with_for_update(skip_locked=True)).all()
            if len(found) > 1:
                waiting[key] = int(found[1].seq or 0)
            else:
                waiting.pop(key, None)
            if found:
                return found[0]
        return None


def claim_items(
    session: Session,
    *,
    worker_id: str,
    lease_seconds: float,
    max_attempts: int,
    max_running: int,
    limit: int,
    now: float | None = None,
) -> list[Job]:
    """Take up to `limit` batch items under a lease in one transaction, each chosen as a claim of one
    would choose it once the ones before it run (see the module's order); fewer when no more may
    start now."""
    return claim_up_to(session, _Picker(max_running), limit, worker_id=worker_id, lease_seconds=lease_seconds,
                       max_attempts=max_attempts, now=now)  # fmt: skip


def claim_item(
    session: Session,
    *,
    worker_id: str,
    lease_seconds: float,
    max_attempts: int,
    max_running: int,
    now: float | None = None,
) -> Job | None:
    """Take the next batch item under a lease (see the module's order); None when none may start now."""
    items = claim_items(session, worker_id=worker_id, lease_seconds=lease_seconds, max_attempts=max_attempts,
                        max_running=max_running, limit=1, now=now)  # fmt: skip
    return items[0] if items else None
