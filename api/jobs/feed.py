"""What the SSE progress streams of jobs and of batches share: how they poll the database (any
replica serves any stream), their heartbeat, their event format and the reconnection delay."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from api.errors import DATABASE_DOWN
from api.store.database import Database

RETRY_MS = 1000  # how soon EventSource reconnects after the stream closes without a final event
T = TypeVar("T")


@dataclass(frozen=True)
class Feed:
    """Where and how often one stream reads its state."""

    database: Database
    poll_seconds: float
    heartbeat_seconds: float
    last_event_id: str | None = None
    """The id of the last state the client saw (Last-Event-ID): it is not sent again."""
    closing: asyncio.Event | None = None
    """Set when the server shuts down: the stream ends early and the client reconnects, to another
    replica, with its Last-Event-ID."""

    def closed(self) -> bool:
        return self.closing is not None and self.closing.is_set()


async def polls(feed: Feed, observe: Callable[[], Awaitable[T]]) -> AsyncGenerator[T, None]:
    """`observe()` once a poll until the server closes (or the consumer stops asking). A database
    that is down keeps the client: it is tried again at the next poll."""
    while True:
        try:
            seen = await observe()
        except DATABASE_DOWN:
            pass
        else:
            yield seen
        if feed.closed():
            return
        await asyncio.sleep(feed.poll_seconds)


class Heartbeat:
    """Due every `seconds`: a `heartbeat` event tells the client the stream is alive."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.next = time.monotonic() + seconds

    def due(self) -> bool:
        if time.monotonic() < self.next:
            return False
        self.next = time.monotonic() + self.seconds
        return True


def sse(event: str, data: dict[str, Any], event_id: str | None = None) -> str:
    lines = [f"event: {event}"]
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"data: {json.dumps(data, separators=(',', ':'), allow_nan=False)}")
    return "\n".join(lines) + "\n\n"


def deleted(noun: str, ident: str) -> str:
    """The final event of a stream whose job or batch was deleted meanwhile."""
    error = f"{noun} {ident} no longer exists"
    return sse("error", {f"{noun}_id": ident, "status": "deleted", "error": error, "error_type": "not_found"})


async def with_retry(events: AsyncIterator[str]) -> AsyncIterator[str]:
    """The stream's text, event by event; the first event also sets the client's reconnection delay
    (`retry:`)."""
    prefix = f"retry: {RETRY_MS}\n"
    async for event in events:
        yield prefix + event
        prefix = ""
