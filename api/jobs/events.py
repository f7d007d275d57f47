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

import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from functools import partial
from typing import Any

from api.jobs.feed import Feed, Heartbeat, deleted, polls, sse, with_retry
from api.store import jobs as store
from api.store.database import Database
from api.store.job_table import Job, JobStatus


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


async def _events(feed: Feed, job_id: str) -> AsyncIterator[str]:
    sent, heartbeat = feed.last_event_id, Heartbeat(feed.heartbeat_seconds)
    async with aclosing(polls(feed, partial(_observe, feed.database, job_id))) as observed:
        async for job, position in observed:
            if job is None:
                yield deleted("job", job_id)
                return
            event_id = str(job.version) if position is None else f"{job.version}.{position}"
            if job.status in JobStatus.FINISHED:
                yield await final_event(feed.database, job, event_id)
                return
            if event_id != sent:
                sent = event_id
                yield sse("progress", progress_data(job, position), event_id)
            if heartbeat.due():
                yield sse("heartbeat", {"job_id": job_id, "status": job.status, "timestamp": time.time()}, sent)


def stream(feed: Feed, job_id: str) -> AsyncIterator[str]:
    """The stream's text, event by event, until the job's final event (or the server closes)."""
    return with_retry(_events(feed, job_id))
