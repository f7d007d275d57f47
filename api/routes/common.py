"""What several routers share: the OpenAPI error documentation, the sampling fields of a multipart
form, the acknowledgement of a queued submission (jobs, batches) and their SSE progress streams."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Form, Header, Request, Response
from fastapi.responses import StreamingResponse

from api.deps import SettingsDep
from api.jobs.feed import Feed
from api.schemas.tts import ErrorResponse

API_PREFIX = "/api/v1"
Responses = dict[int | str, dict[str, Any]]


def doc(codes: dict[int, str]) -> Responses:
    """OpenAPI `responses` of these error statuses: the contract's error body, and what each means."""
    return {code: {"model": ErrorResponse, "description": text} for code, text in codes.items()}


def acknowledge(request: Request, response: Response, *, created: bool) -> None:
    """After a submission: a new one wakes this replica's worker at once; a replay (the same
    Idempotency-Key and request again) says so in a header."""
    if created and request.app.state.job_worker is not None:
        request.app.state.job_worker.wake()
    if not created:
        response.headers["Idempotent-Replayed"] = "true"


def get_feed(request: Request, settings: SettingsDep, last_event_id: Annotated[str | None, Header()] = None) -> Feed:
    return Feed(
        request.app.state.database,
        poll_seconds=settings.job_poll_interval_seconds,
        heartbeat_seconds=settings.job_heartbeat_seconds,
        last_event_id=last_event_id,
        closing=request.app.state.jobs_closing,
    )


FeedDep = Annotated[Feed, Depends(get_feed)]
"""How a progress stream of this request polls (a reconnecting client's Last-Event-ID included)."""
STREAM: Responses = {200: {"content": {"text/event-stream": {}}}}


def event_stream(events: AsyncIterator[str]) -> StreamingResponse:
    """Server-Sent Events, neither cached nor buffered by a proxy on the way."""
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


def sampling_form(
    temperature: Annotated[float | None, Form()] = None,
    top_p: Annotated[float | None, Form()] = None,
    top_k: Annotated[int | None, Form()] = None,
    repetition_penalty: Annotated[float | None, Form()] = None,
    max_new_tokens: Annotated[int | None, Form()] = None,
) -> dict[str, Any]:
    return {
        "temperature": temperature,
        "top_p": top_p,
        "top_k": top_k,
        "repetition_penalty": repetition_penalty,
        "max_new_tokens": max_new_tokens,
    }


SamplingForm = Annotated[dict[str, Any], Depends(sampling_form)]
"""The sampling fields of a multipart form (GenerationParams'), checked with the rest of the form."""
