"""The SSE progress stream of a batch, built by polling its counts (any replica serves any batch).

Events: `progress` (batch_id, status, total, counts by status, percent, audio_seconds) whenever the
counts change, `heartbeat` every `heartbeat_seconds`, and one final event: `completed` (every item
finished: completed, failed or cancelled), `cancelled`, or `error` when the batch was deleted. Event
ids are the number of finished items (`<finished>.<running>`), so a client reconnecting with
Last-Event-ID is not sent again the state it saw.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import replace
from functools import partial

from api.jobs.feed import Feed, Heartbeat, deleted, polls, sse, with_retry
from api.services.batches import view
from api.store import batches as store
from api.store.batch_table import Batch, BatchStatus
from api.store.database import Database

FINAL = {BatchStatus.COMPLETED: "completed", BatchStatus.CANCELLED: "cancelled"}


async def _observe(database: Database, batch_id: str) -> tuple[Batch, store.Counts] | None:
    batch = await database.in_session(store.get, batch_id)
    if batch is None:
        return None
    return batch, (await database.in_session(store.counts, [batch_id]))[batch_id]


async def _events(feed: Feed, batch_id: str) -> AsyncIterator[str]:
    sent, heartbeat = feed.last_event_id, Heartbeat(feed.heartbeat_seconds)
    async with aclosing(polls(feed, partial(_observe, feed.database, batch_id))) as observed:
        async for seen in observed:
            if seen is None:
                yield deleted("batch", batch_id)
                return
            batch, counts = seen
            state = view(batch, counts)
            by_status = state.counts
            finished = by_status.completed + by_status.failed + by_status.cancelled
            event_id = f"{finished}.{by_status.processing}"
            data = {"batch_id": batch_id, **state.model_dump(mode="json", exclude={"id"})}
            if state.status in FINAL:
                yield sse(FINAL[state.status], data, event_id)
                return
            if event_id != sent:
                sent = event_id
                yield sse("progress", data, event_id)
            if heartbeat.due():
                yield sse("heartbeat", {"batch_id": batch_id, "status": state.status, "timestamp": time.time()})


def stream(feed: Feed, batch_id: str) -> AsyncIterator[str]:
    """The stream's text, event by event. A batch's counts are an aggregate over its items: they are
    read once a heartbeat, not at every poll of a job's stream."""
    return with_retry(_events(replace(feed, poll_seconds=feed.heartbeat_seconds), batch_id))
