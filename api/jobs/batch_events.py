"""The SSE progress stream of a batch, built by polling its counts (any replica serves any batch).

Events: `progress` (batch_id, status, total, counts by status, percent, audio_seconds) whenever the
counts change, `heartbeat` every `heartbeat_seconds`, and one final event: `completed` (every item
finished: completed, failed or cancelled), `cancelled`, or `error` when the batch was deleted. Event
ids are the number of finished items (`<finished>.<running>`), so a client reconnecting with
Last-Event-ID is not sent again the state it saw.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from api.errors import DATABASE_DOWN
from api.jobs.events import RETRY_MS, sse
from api.services.batches import view
from api.store import batches as store
from api.store.batch_table import BatchStatus
from api.store.database import Database

FINAL = {BatchStatus.COMPLETED: "completed", BatchStatus.CANCELLED: "cancelled"}


async def stream(
    database: Database,
    batch_id: str,
    *,
    poll_seconds: float,
    heartbeat_seconds: float,
    last_event_id: str | None = None,
    closing: asyncio.Event | None = None,
) -> AsyncIterator[str]:
    sent, prefix = last_event_id, f"retry: {RETRY_MS}\n"
    next_beat = time.monotonic() + heartbeat_seconds
    while True:
        try:
            batch = await database.in_session(store.get, batch_id)
            counts = await database.in_session(store.counts, [batch_id]) if batch is not None else {}
        except DATABASE_DOWN:  # keep the client; the database is retried at the next poll
            if closing is not None and closing.is_set():
                return
            await asyncio.sleep(poll_seconds)
            continue
        if batch is None:
            error = {"batch_id": batch_id, "status": "deleted", "error": f"batch {batch_id} no longer exists"}
            yield prefix + sse("error", {**error, "error_type": "not_found"})
            return
        state = view(batch, counts[batch_id])
        by_status = state.counts
        finished = by_status.completed + by_status.failed + by_status.cancelled
        event_id = f"{finished}.{by_status.processing}"
        data = {"batch_id": batch_id, **state.model_dump(mode="json", exclude={"id"})}
        if state.status in FINAL:
            yield prefix + sse(FINAL[state.status], data, event_id)
            return
        if event_id != sent:
            sent = event_id
            yield prefix + sse("progress", data, event_id)
            prefix = ""
        if time.monotonic() >= next_beat:
            next_beat = time.monotonic() + heartbeat_seconds
            yield prefix + sse("heartbeat", {"batch_id": batch_id, "status": state.status, "timestamp": time.time()})
            prefix = ""
        if closing is not None and closing.is_set():
            return
        await asyncio.sleep(poll_seconds)
