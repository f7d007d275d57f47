"""The job use cases behind /jobs: submit (validated, idempotent, bounded), look up, list, result,
cancel, delete. The queue itself is the store's (api/store/job_queue.py, api/store/jobs.py); running jobs
is the worker's (api/jobs/worker.py).

A job belongs to the API key that submitted it (`principal.key_id`); a caller that does not see all
(any key but an admin key) finds only its own jobs: another key's job is "not found". Idempotency
keys are per API key: the same key sent by two API keys makes two jobs."""

from __future__ import annotations

import time
import uuid
from functools import partial
from typing import Any

import anyio
from sqlmodel import Session

from api import request_id
from api.errors import ConflictError, NotFoundError, OverloadedError, ValidationFailed
from api.schemas.jobs import JobCreate, JobList, JobProgress, JobResult, JobView
from api.schemas.pages import page_fields
from api.services import job_requests
from api.services.api_keys import Principal
from api.settings import Settings
from api.store import job_queue
from api.store import jobs as store
from api.store.job_table import Job, JobStatus

# The view's fields that are the row's own columns, as they are (the others are computed below).
_ROW_FIELDS = JobView.model_fields.keys() - {"type", "progress", "elapsed_seconds"}


def view(job: Job, position: int | None = None) -> JobView:
    progress = JobProgress.model_validate({**job.progress, "position": position})
    end = job.finished_at if job.finished_at is not None else time.time()
    elapsed = round(max(0.0, end - job.created_at), 3)
    row = {name: getattr(job, name) for name in _ROW_FIELDS}
    return JobView(type=job.job_type, progress=progress, elapsed_seconds=elapsed, **row)  # type: ignore[arg-type]


def created_progress(now: float) -> dict[str, Any]:
    """The contract's first stage; the place in the queue is the view's `position`."""
    return {"stage": "created", "percent": 0, "message": "Job creado", "timestamp": now}


async def view_of(session: Session, job: Job) -> JobView:
    """The view, with the job's place in the queue while it is pending."""
    if job.status != JobStatus.PENDING or job.seq is None or job.batch_id is not None:
        return view(job)  # a batch item has no place in the FIFO: its batch's lane is fair, not FIFO
    place = await anyio.to_thread.run_sync(store.position, session, job.seq)
    return view(job, place)


def _idempotency_key(body: JobCreate, header: str | None, principal: Principal) -> str | None:
    """The key as stored: the client's, prefixed by the caller's API key id (scoped to that key)."""
    if header and body.idempotency_key and header != body.idempotency_key:
        raise ValidationFailed("idempotency_key: differs from the Idempotency-Key header", field="idempotency_key")
    key = header or body.idempotency_key
    return key if key is None or principal.key_id is None else f"{principal.key_id}:{key}"


async def _check_room(session: Session, settings: Settings, principal: Principal) -> None:
    """429 when the queue holds job_max_pending pending jobs, or this key job_max_pending_per_key."""
    pending = await anyio.to_thread.run_sync(store.count, session, JobStatus.PENDING)
    if pending >= settings.job_max_pending:
        raise OverloadedError(f"the job queue is full ({pending} pending); retry later", headers={"Retry-After": "10"})
    if principal.key_id is None:
        return
    count = partial(store.count, session, JobStatus.PENDING, owner=principal.key_id)
    mine = await anyio.to_thread.run_sync(count)
    if mine >= settings.job_max_pending_per_key:
        message = f"this API key has {mine} pending jobs, its limit; retry when some have started"
        raise OverloadedError(message, headers={"Retry-After": "10"})


def _same_request(job: Job, digest: str) -> Job:
    if job.request_sha256 != digest:
        raise ConflictError("Idempotency-Key already used for a different request", field="idempotency_key")
    return job


async def submit(
    *, session: Session, settings: Settings, principal: Principal, body: JobCreate, header_key: str | None
) -> tuple[Job, bool]:
    """The new pending job (True), or the job a previous submission with this key created (False)."""
    key = _idempotency_key(body, header_key, principal)
    request = await job_requests.validate(
        body.job_type, body.request_data, settings=settings, session=session, principal=principal
    )
    digest = job_requests.fingerprint(body.job_type, request)
    if key is not None:
        existing = await anyio.to_thread.run_sync(store.by_idempotency_key, session, key)
        if existing is not None:
            return _same_request(existing, digest), False
    await _check_room(session, settings, principal)
    now = time.time()
    job = Job(
        id=str(uuid.uuid4()),
        job_type=body.job_type.value,
        status=JobStatus.PENDING,
        request_data=request.model_dump(mode="json"),
        idempotency_key=key,
        request_sha256=digest,
        progress=created_progress(now),
        created_at=now,
        updated_at=now,
        owner=principal.key_id,
        request_id=request_id.current(),
    )
    job, created = await anyio.to_thread.run_sync(job_queue.submit, session, job)
    return (job if created else _same_request(job, digest)), created


async def get(session: Session, job_id: str, principal: Principal) -> Job:
    job = await anyio.to_thread.run_sync(partial(store.get_state, session, job_id, owner=principal.scope))
    if job is None:
        raise NotFoundError(f"job {job_id!r} not found", field="job_id")
    return job


async def list_jobs(*, session: Session, principal: Principal, status: str | None, limit: int, offset: int) -> JobList:
    jobs, total = await anyio.to_thread.run_sync(
        lambda: store.list_jobs(session, status=status, limit=limit, offset=offset, owner=principal.scope)
    )
    page = page_fields(total=total, offset=offset, limit=limit, count=len(jobs))
    return JobList(jobs=[await view_of(session, job) for job in jobs], **page)


async def result(session: Session, job_id: str, principal: Principal) -> JobResult:
    job = await get(session, job_id, principal)
    if job.status in (JobStatus.PENDING, JobStatus.PROCESSING):
        raise ConflictError(f"job {job_id} is {job.status}: no result yet; follow its stream or status", field="job_id")
    if job.status == JobStatus.CANCELLED:
        raise ConflictError(f"job {job_id} was cancelled: it has no result", field="job_id")
    if job.status == JobStatus.FAILED:
        return JobResult(success=False, job_id=job.id, status=job.status, error=job.error, error_type=job.error_type)
    full = await anyio.to_thread.run_sync(store.get_full, session, job_id)
    if full is None or full.result is None:
        raise NotFoundError(f"job {job_id!r} not found", field="job_id")
    return JobResult(success=True, job_id=job.id, status=job.status, result=full.result)


async def cancel(session: Session, job_id: str, principal: Principal) -> None:
    await get(session, job_id, principal)  # another key's job is not found (owners never change)
    cancelled, job = await anyio.to_thread.run_sync(job_queue.cancel, session, job_id)
    if job is None:
        raise NotFoundError(f"job {job_id!r} not found", field="job_id")
    if not cancelled:
        raise ConflictError(f"job {job_id} already finished ({job.status}); nothing to cancel", field="job_id")


async def delete(session: Session, job_id: str, principal: Principal) -> None:
    await get(session, job_id, principal)  # another key's job is not found (owners never change)
    if not await anyio.to_thread.run_sync(job_queue.delete_job, session, job_id):
        raise NotFoundError(f"job {job_id!r} not found", field="job_id")
