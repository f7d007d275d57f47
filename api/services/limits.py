"""Bounded concurrency: answer 429 at once instead of queueing without end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from api.errors import OverloadedError


class InflightLimiter:
    """Counts requests in flight in this process; the event loop makes the counter race-free."""

    def __init__(self, limit: int):
        self.limit = limit
        self.inflight = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.inflight >= self.limit:
            raise OverloadedError(
                f"too many requests in flight ({self.limit}); retry shortly or use POST /api/v1/jobs",
                headers={"Retry-After": "1"},
            )
        self.inflight += 1
        try:
            yield
        finally:
            self.inflight -= 1
