"""Bounded concurrency: answer 429 at once instead of queueing without end."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

from api.errors import OverloadedError


class InflightLimiter:
    """Counts requests in flight in this process, in all and per API key; the event loop makes the
    counters race-free. Per process: each replica (and uvicorn worker) has its own."""

    def __init__(self, limit: int, *, per_key: int | None = None):
        self.limit = limit
        self.per_key = per_key
        self.inflight = 0
        self.by_key: dict[str, int] = {}

    @asynccontextmanager
    async def slot(self, key: str | None = None) -> AsyncIterator[None]:
        """One request in flight, for `key` (an API key id; None: counted in the total only)."""
        if self.inflight >= self.limit:
            raise OverloadedError(
                f"too many requests in flight ({self.limit}); retry shortly or use POST /api/v1/jobs",
                headers={"Retry-After": "1"},
            )
        if key is not None and self.per_key is not None and self.by_key.get(key, 0) >= self.per_key:
            message = f"too many requests in flight for this API key ({self.per_key}); retry shortly or use jobs"
            raise OverloadedError(message, headers={"Retry-After": "1"})
        self.inflight += 1
        if key is not None:
            self.by_key[key] = self.by_key.get(key, 0) + 1
        try:
            yield
        finally:
            self.inflight -= 1
            if key is not None:
                self.by_key[key] -= 1
                if not self.by_key[key]:
                    del self.by_key[key]


@dataclass(frozen=True)
class CallerSlots:
    """The process's limiter, for one caller: what routes hold while a request is in flight."""

    limiter: InflightLimiter
    key: str | None

    def slot(self) -> AbstractAsyncContextManager[None]:
        return self.limiter.slot(self.key)
