"""Asynchronous jobs: POST /jobs, GET /jobs, GET /jobs/{id}/status|result|stream,
POST /jobs/{id}/cancel, DELETE /jobs/{id}."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.deps import PageDep, PrincipalDep, SessionDep, SettingsDep
from api.jobs import events
from api.routes.common import API_PREFIX, STREAM, FeedDep, acknowledge, doc, event_stream
from api.routes.tts import ERRORS
from api.schemas.jobs import JobCreate, JobCreated, JobList, JobMessage, JobResult, JobStatusResponse
from api.services import jobs
from api.store.job_table import JobStatus

router = APIRouter(prefix="/jobs", tags=["jobs"])

NOT_FOUND = doc({404: "Unknown job_id", 503: "The database is unavailable"})
CONFLICT = {**NOT_FOUND, **doc({409: "Not possible in the job's current status"})}
SUBMIT = {**ERRORS, **doc({409: "Idempotency-Key already used for a different request"})}


@router.post("", response_model=JobCreated, responses=SUBMIT)
async def create_job(
    body: JobCreate,
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> JobCreated:
    job, created = await jobs.submit(
        session=session, settings=settings, principal=principal, body=body, header_key=idempotency_key
    )
    acknowledge(request, response, created=created)
    return JobCreated(
        job_id=job.id,
        job=await jobs.view_of(session, job),
        stream_url=f"{API_PREFIX}/jobs/{job.id}/stream",
        status_url=f"{API_PREFIX}/jobs/{job.id}/status",
    )


@router.get("", response_model=JobList, responses=NOT_FOUND)
async def list_jobs(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(JobStatus.ALL) + ")$")] = None,
) -> JobList:
    return await jobs.list_jobs(
        session=session, principal=principal, status=status, limit=page.limit, offset=page.offset
    )


@router.get("/{job_id}/status", response_model=JobStatusResponse, responses=NOT_FOUND)
async def job_status(job_id: str, session: SessionDep, principal: PrincipalDep) -> JobStatusResponse:
    return JobStatusResponse(job=await jobs.view_of(session, await jobs.get(session, job_id, principal)))


@router.get("/{job_id}/result", response_model=JobResult, responses=CONFLICT)
async def job_result(job_id: str, session: SessionDep, principal: PrincipalDep) -> JobResult:
    return await jobs.result(session, job_id, principal)


@router.get("/{job_id}/stream", responses={**STREAM, **NOT_FOUND})
async def job_stream(job_id: str, session: SessionDep, principal: PrincipalDep, feed: FeedDep) -> StreamingResponse:
    await jobs.get(session, job_id, principal)  # 404 as JSON before the stream starts
    return event_stream(events.stream(feed, job_id))


@router.post("/{job_id}/cancel", response_model=JobMessage, responses=CONFLICT)
async def cancel_job(job_id: str, session: SessionDep, principal: PrincipalDep) -> JobMessage:
    await jobs.cancel(session, job_id, principal)
    return JobMessage(message=f"Job {job_id} cancelado exitosamente")


@router.delete("/{job_id}", response_model=JobMessage, responses=NOT_FOUND)
async def delete_job(job_id: str, session: SessionDep, principal: PrincipalDep) -> JobMessage:
    await jobs.delete(session, job_id, principal)
    return JobMessage(message=f"Job {job_id} eliminado exitosamente")
