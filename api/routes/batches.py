"""Batches: POST /batches, GET /batches, GET /batches/{id}, GET /batches/{id}/items|stream|results,
POST /batches/{id}/cancel, DELETE /batches/{id}."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.deps import PageDep, PrincipalDep, SessionDep, SettingsDep
from api.errors import ConflictError
from api.jobs import batch_events
from api.routes.common import API_PREFIX, STREAM, FeedDep, Responses, acknowledge, doc, event_stream
from api.routes.jobs import CONFLICT, NOT_FOUND, SUBMIT
from api.schemas.batches import BatchCreated, BatchItems, BatchList, BatchMessage, BatchRequest, BatchView
from api.services import batch_input, batch_results, batches
from api.store.job_table import JobStatus

router = APIRouter(prefix="/batches", tags=["batches"])

BODY = {
    "requestBody": {
        "required": True,
        "description": "A JSON array of items, a JSON object with `items`, JSONL (application/jsonl), or a "
        "multipart upload of either in the field `file`. Each item: `job_type`, `request_data`, optional "
        "`custom_id`.",
        "content": {
            "application/json": {"schema": BatchRequest.model_json_schema(ref_template="#/components/schemas/{model}")},
            "application/jsonl": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
            },
        },
    }
}
SUBMIT_ERRORS = {**SUBMIT, **doc({413: "More items than batch_max_items", 422: "Invalid items, every one listed"})}


@router.post("", response_model=BatchCreated, responses=SUBMIT_ERRORS, openapi_extra=BODY)
async def create_batch(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    principal: PrincipalDep,
    idempotency_key: Annotated[str | None, Header(max_length=255)] = None,
) -> BatchCreated:
    raw = await batch_input.read_body(request)
    content_type = request.headers.get("content-type", "")
    batch, created = await batches.submit(
        session=session, settings=settings, principal=principal, raw=raw, content_type=content_type,
        header_key=idempotency_key,
    )  # fmt: skip
    acknowledge(request, response, created=created)
    base = f"{API_PREFIX}/batches/{batch.id}"
    return BatchCreated(
        batch_id=batch.id, batch=await batches.view_of(session, batch), status_url=base,
        stream_url=f"{base}/stream", results_url=f"{base}/results",
    )  # fmt: skip


@router.get("", response_model=BatchList, responses=NOT_FOUND)
async def list_batches(session: SessionDep, principal: PrincipalDep, page: PageDep) -> BatchList:
    return await batches.list_batches(session=session, principal=principal, limit=page.limit, offset=page.offset)


@router.get("/{batch_id}", response_model=BatchView, responses=NOT_FOUND)
async def get_batch(batch_id: str, session: SessionDep, principal: PrincipalDep) -> BatchView:
    return await batches.view_of(session, await batches.get(session, batch_id, principal))


@router.get("/{batch_id}/items", response_model=BatchItems, responses=NOT_FOUND)
async def batch_items(
    batch_id: str,
    session: SessionDep,
    principal: PrincipalDep,
    after: Annotated[int, Query(ge=-1, le=2**31 - 1, description="Items after this index")] = -1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    status: Annotated[str | None, Query(pattern="^(" + "|".join(JobStatus.ALL) + ")$")] = None,
) -> BatchItems:
    return await batches.items(session, batch_id, principal, after=after, limit=limit, status=status)


@router.get("/{batch_id}/stream", responses={**STREAM, **NOT_FOUND})
async def batch_stream(batch_id: str, session: SessionDep, principal: PrincipalDep, feed: FeedDep) -> StreamingResponse:
    await batches.get(session, batch_id, principal)  # 404 as JSON before the stream starts
    return event_stream(batch_events.stream(feed, batch_id))


RESULTS: Responses = {200: {"content": {"application/zip": {}}}, **CONFLICT}


@router.get("/{batch_id}/results", response_class=StreamingResponse, responses=RESULTS)
async def batch_results_zip(batch_id: str, request: Request, session: SessionDep, principal: PrincipalDep) -> Any:
    state = await batches.view_of(session, await batches.get(session, batch_id, principal))
    if state.status not in ("completed", "cancelled"):
        raise ConflictError(f"batch {batch_id} is {state.status}: results once it has finished", field="batch_id")
    body = batch_results.results_zip(request.app.state.database, batch_id)
    headers = {"Content-Disposition": f'attachment; filename="batch-{batch_id}.zip"'}
    return StreamingResponse(body, media_type="application/zip", headers=headers)


@router.post("/{batch_id}/cancel", response_model=BatchMessage, responses=CONFLICT)
async def cancel_batch(batch_id: str, session: SessionDep, principal: PrincipalDep) -> BatchMessage:
    await batches.cancel(session, batch_id, principal)
    return BatchMessage(message=f"Lote {batch_id} cancelado")


@router.delete("/{batch_id}", response_model=BatchMessage, responses=NOT_FOUND)
async def delete_batch(batch_id: str, session: SessionDep, principal: PrincipalDep) -> BatchMessage:
    await batches.delete(session, batch_id, principal)
    return BatchMessage(message=f"Lote {batch_id} eliminado")
