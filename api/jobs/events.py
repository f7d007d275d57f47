"""The SSE progress stream of one job, built by polling its row: it works the same whichever
replica runs the job, and a client that connects late or reconnects (Last-Event-ID) gets the
current state first, then every change, then the end.

Events: `progress` (stage, percent, message, timestamp, percent_is_estimate; `position` while
queued), `heartbeat` (every `job_heartbeat_seconds`), and one final event that ends the stream:
`completed` (with the result), `error` (failed, or the job was deleted) or `cancelled`. Every
`data:` line is one JSON object. Ids are `<row version>` (`<version>.<queue position>` while
queued): a reconnecting client is not sent again the state it already saw.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from api.errors import DATABASE_DOWN
from api.store import jobs as store
from api.store.database import Database
from api.store.job_table import Job, JobStatus

RETRY_MS = 1000  # how soon EventSource reconnects after the stream closes without a final event
Closing = asyncio.Event | None  # set when the server shuts down


def sse(event: str, data: dict[str, Any], event_id: str | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {json.dumps(data, separators=(',', ':'), allow_nan=False)}")
    return "\n".join(lines) + "\n\n"


def progress_data(job: Job, position: int | None) -> dict[str, Any]:
    data: dict[str, Any] = {"percent_is_estimate": False, **job.progress, "job_id": job.id, "status": job.status}
    if position is not None:
        data["position"] = position
    return data


async def final_event(database: Database, job: Job, event_id: str) -> str:
    """The event that ends the stream of a finished job."""
    if job.status == JobStatus.COMPLETED:
        full = await database.in_session(store.get_full, job.id)
        result = full.result if full is not None else None
        return sse("completed", {"job_id": job.id, "status": job.status, "result": result}, event_id)
    if job.status == JobStatus.CANCELLED:
        return sse(
            "cancelled", {"job_id": job.id, "status": job.status, "message": f"Job {job.id} cancelado"}, event_id
        )
    return sse(
        "error", {"job_id": job.id, "status": job.status, "error": job.error, "error_type": job.error_type}, event_id
    )


async def _observe(database: Database, job_id: str) -> tuple[Job | None, int | None]:
    job = await database.in_session(store.get_state, job_id)
    if job is None or job.status != JobStatus.PENDING or job.seq is None or job.batch_id is not None:
        return job, None
    return job, await database.in_session(store.position, job.seq)


async def _events(
    database: Database, job_id: str, poll_seconds: float, heartbeat_seconds: float, sent: str | None, closing: Closing
) -> AsyncIterator[str]:
    """The events of `stream`; `sent`: the id of the last state the client has."""
    next_beat = time.monotonic() + heartbeat_seconds
    while True:
        try:
            job, position = await _observe(database, job_id)
        except DATABASE_DOWN:  # keep the client; the database is retried at the next poll
            if closing is not None and closing.is_set():
                return
            await asyncio.sleep(poll_seconds)
            continue
        if job is None:
            yield sse(
                "error",
                {
                    "job_id": job_id,
                    "status": "deleted",
                    "error": f"job {job_id} no longer exists",
                    "error_type": "not_found",
                },
            )
            return
        event_id = str(job.version) if position is None else f"{job.version}.{position}"
        if job.status in JobStatus.FINISHED:
            yield await final_event(database, job, event_id)
            return
        if event_id != sent:
            sent = event_id
            yield sse("progress", progress_data(job, position), event_id)
        if time.monotonic() >= next_beat:
            next_beat = time.monotonic() + heartbeat_seconds
            yield sse("heartbeat", {"job_id": job_id, "status": job.status, "timestamp": time.time()}, sent)
        if closing is not None and closing.is_set():
            return
        await asyncio.sleep(poll_seconds)


async def stream(
    database: Database,
    job_id: str,
    *,
    poll_seconds: float,
    heartbeat_seconds: float,
    last_event_id: str | None = None,
    closing: Closing = None,
) -> AsyncIterator[str]:
    """The stream's text, event by event. `closing` set (server shutting down) ends it early: the
    client reconnects, to another replica, with its Last-Event-ID. The first event also sets the
    client's reconnection delay (`retry:`)."""
    prefix = f"retry: {RETRY_MS}\n"
    async for event in _events(database, job_id, poll_seconds, heartbeat_seconds, last_event_id, closing):
        yield prefix + event
        prefix = ""
