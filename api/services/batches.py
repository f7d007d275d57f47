"""The batch use cases behind /batches: submit (every item validated up front, idempotent, bounded),
look up, list, page through items, cancel, delete. Each item becomes a job of the durable queue
(api/store/batches.py writes the batch and its items in one transaction); the batch lane of the
workers runs them (api/store/batch_queue.py). Ownership and idempotency keys work as for jobs."""

from __future__ import annotations

import hashlib
import time
import uuid
from functools import partial
from typing import Any

import anyio
from sqlmodel import Session

from api import request_id
from api.errors import ConflictError, NotFoundError, OverloadedError
from api.schemas.batches import BatchCounts, BatchItems, BatchItemView, BatchList, BatchView
from api.schemas.pages import page_fields
from api.services import batch_input
from api.services.api_keys import Principal
from api.services.jobs import created_progress
from api.settings import Settings
from api.store import batches as store
from api.store.batch_table import Batch
from api.store.job_table import Job, JobStatus

FINISHED = set(JobStatus.FINISHED)


def view(batch: Batch, counts: store.Counts) -> BatchView:
    finished = sum(n for status, n in counts.by_status.items() if status in FINISHED)
    return BatchView(
        id=batch.id,
        status=counts.status_of(batch),
        total=batch.total,
        counts=BatchCounts(**counts.by_status),
        percent=round(100.0 * finished / batch.total, 2) if batch.total else 100.0,
        audio_seconds=round(counts.audio_seconds, 3),
        created_at=batch.created_at,
        cancelled_at=batch.cancelled_at,
    )


async def view_of(session: Session, batch: Batch) -> BatchView:
    counts = await anyio.to_thread.run_sync(store.counts, session, [batch.id])
    return view(batch, counts[batch.id])


def _scoped(key: str | None, principal: Principal) -> str | None:
    return key if key is None or principal.key_id is None else f"{principal.key_id}:{key}"


async def _check_room(session: Session, settings: Settings, principal: Principal, adding: int) -> None:
    """429 when the batch would pass the pending items allowed in all, or to this key."""
    pending = await anyio.to_thread.run_sync(store.pending_items, session)
    if pending + adding > settings.batch_max_pending_items:
        message = f"the queue holds {pending} pending batch items; {adding} more would pass its limit of "
        raise OverloadedError(message + f"{settings.batch_max_pending_items}", headers={"Retry-After": "60"})
    if principal.key_id is None:
        return
    mine = await anyio.to_thread.run_sync(partial(store.pending_items, session, owner=principal.key_id))
    if mine + adding > settings.batch_max_pending_items_per_key:
        message = f"this API key has {mine} pending batch items; {adding} more would pass its limit of "
        raise OverloadedError(message + f"{settings.batch_max_pending_items_per_key}", headers={"Retry-After": "60"})


def _rows(batch: Batch, items: list[batch_input.ValidItem], now: float) -> list[dict[str, Any]]:
    return [
        {
            "id": str(uuid.uuid4()),
            "job_type": item.job_type.value,
            "status": JobStatus.PENDING,
            "request_data": item.request.model_dump(mode="json"),
            "request_sha256": item.digest,
            "progress": created_progress(now),
            "attempts": 0,
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "owner": batch.owner,
            "batch_id": batch.id,
            "custom_id": item.custom_id,
            "item_index": item.index,
            "file_name": item.file_name,
            "request_id": request_id.current(),  # the submitting request's: its items run under it
        }
        for item in items
    ]


async def submit(
    *, session: Session, settings: Settings, principal: Principal, raw: bytes, content_type: str, header_key: str | None
) -> tuple[Batch, bool]:
    """The new batch (True), or the batch an earlier submission with this idempotency key made (False)."""
    values, body_key = batch_input.parse_body(raw, content_type)
    key = _scoped(header_key or body_key, principal)
    items = await batch_input.validate_items(values, settings=settings, session=session, principal=principal)
    digest = hashlib.sha256("\n".join(f"{item.custom_id}:{item.digest}" for item in items).encode()).hexdigest()
    if key is not None:
        existing = await anyio.to_thread.run_sync(store.by_idempotency_key, session, key)
        if existing is not None:
            return _same_request(existing, digest), False
    await _check_room(session, settings, principal, len(items))
    now = time.time()
    batch = Batch(
        id=str(uuid.uuid4()), owner=principal.key_id, idempotency_key=key, request_sha256=digest,
        total=len(items), created_at=now,
    )  # fmt: skip
    batch, created = await anyio.to_thread.run_sync(store.create, session, batch, _rows(batch, items, now))
    return (batch if created else _same_request(batch, digest)), created


def _same_request(batch: Batch, digest: str) -> Batch:
    if batch.request_sha256 != digest:
        raise ConflictError("Idempotency-Key already used for a different batch", field="idempotency_key")
    return batch


async def get(session: Session, batch_id: str, principal: Principal) -> Batch:
    batch = await anyio.to_thread.run_sync(partial(store.get, session, batch_id, owner=principal.scope))
    if batch is None:
        raise NotFoundError(f"batch {batch_id!r} not found", field="batch_id")
    return batch


async def list_batches(*, session: Session, principal: Principal, limit: int, offset: int) -> BatchList:
    page, total = await anyio.to_thread.run_sync(
        partial(store.list_batches, session, owner=principal.scope, limit=limit, offset=offset)
    )
    counts = await anyio.to_thread.run_sync(store.counts, session, [batch.id for batch in page])
    fields = page_fields(total=total, offset=offset, limit=limit, count=len(page))
    return BatchList(batches=[view(batch, counts[batch.id]) for batch in page], **fields)


def item_view(job: Job) -> BatchItemView:
    return BatchItemView(
        index=job.item_index or 0,
        custom_id=job.custom_id,
        file=job.file_name or "",
        job_id=job.id,
        status=job.status,
        duration_seconds=job.audio_seconds,
        error=job.error,
        error_type=job.error_type,
    )


async def items(
    session: Session, batch_id: str, principal: Principal, *, after: int, limit: int, status: str | None
) -> BatchItems:
    await get(session, batch_id, principal)
    page = await anyio.to_thread.run_sync(
        partial(store.items, session, batch_id, after=after, limit=limit, status=status, results=False)
    )
    next_after = page[-1].item_index if len(page) == limit else None
    return BatchItems(items=[item_view(job) for job in page], next_after=next_after)


async def cancel(session: Session, batch_id: str, principal: Principal) -> None:
    batch = await get(session, batch_id, principal)
    counts = await view_of(session, batch)
    if counts.status != "pending" and counts.status != "processing":
        raise ConflictError(f"batch {batch_id} is {counts.status}: nothing to cancel", field="batch_id")
    await anyio.to_thread.run_sync(partial(store.cancel, session, batch_id, now=time.time()))


async def delete(session: Session, batch_id: str, principal: Principal) -> None:
    await get(session, batch_id, principal)
    if not await anyio.to_thread.run_sync(store.delete_batch, session, batch_id):
        raise NotFoundError(f"batch {batch_id!r} not found", field="batch_id")
