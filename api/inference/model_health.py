"""What this process knows of each model's backend, and the calls in flight on each model.

A Python-backend model whose stub process died (SIGKILL by the OOM killer, a CUDA fault) stays READY
in Triton while every call to it fails ("Stub process ... is not healthy"), and calls that were in
flight when it died are never answered. The gateway runs every call through `guarded`: a call to a
model known to be down fails at once with 503 naming it; a call that fails the way a dead backend
does makes the model a suspect (the healer, api/healing, probes it); when the healer confirms the
death (`mark_down`), the calls in flight on that model are aborted with the same 503, so a
synchronous request answers and a job goes back to the queue instead of waiting for its deadline.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from api.errors import ModelDownError

T = TypeVar("T")


class DownState(StrEnum):
    DEAD = "dead"
    """Its backend died; the healer reloads it (after a backoff when it dies again and again)."""
    RELOADING = "reloading"
    """Being unloaded and loaded again (by this process, or by another replica)."""


@dataclass
class ModelDown:
    model: str
    state: DownState
    reason: str
    since: float
    """When it was found down (epoch seconds)."""
    retry_at: float
    """When the healer tries to bring it back (monotonic seconds)."""

    def retry_after(self) -> float:
        return max(1.0, self.retry_at - time.monotonic())

    def error(self) -> ModelDownError:
        wait = self.retry_after()
        doing = "being reloaded" if self.state is DownState.RELOADING else f"reloaded in about {wait:.0f} s"
        return ModelDownError(
            self.model, f"model {self.model} is down ({self.reason}); it is {doing}, retry shortly", retry_after=wait
        )


class ModelHealth:
    """Per process: down models, suspects for the healer, and an abort signal per call in flight."""

    def __init__(self) -> None:
        self.down: dict[str, ModelDown] = {}
        self.suspects: set[str] = set()
        self.wake = asyncio.Event()
        """Set when a call finds a suspect: the healer probes at once instead of at its next round."""
        self._calls: defaultdict[str, set[asyncio.Event]] = defaultdict(set)

    def check(self, model: str) -> None:
        """Raise the 503 of a model known to be down."""
        found = self.down.get(model)
        if found is not None:
            raise found.error()

    def suspect(self, model: str) -> None:
        self.suspects.add(model)
        self.wake.set()

    def mark_down(self, model: str, state: DownState, reason: str, *, retry_at: float) -> None:
        """Report the model down; calls in flight on it fail with its 503 (a dead backend never answers)."""
        previous = self.down.get(model)
        since = previous.since if previous is not None else time.time()
        self.down[model] = ModelDown(model, state, reason, since, retry_at)
        for aborted in self._calls.get(model, ()):
            aborted.set()

    def mark_up(self, model: str) -> bool:
        """The model answers again; whether it had been down."""
        self.suspects.discard(model)
        return self.down.pop(model, None) is not None

    def in_flight(self, model: str) -> int:
        return len(self._calls.get(model, ()))

    async def guarded(self, model: str, responses: AsyncGenerator[T, None]) -> AsyncGenerator[T, None]:
        """One call's responses: refused at once while its model is down, aborted if it goes down
        meanwhile. Each response is awaited in a task raced against the abort, so an abort (or the
        caller leaving) cancels the gRPC call, and Triton tells the model."""
        if model in self.down:
            await responses.aclose()
            self.check(model)
        aborted = asyncio.Event()
        calls = self._calls[model]
        calls.add(aborted)
        try:
            while True:
                step = asyncio.ensure_future(anext(responses))
                abort = asyncio.ensure_future(aborted.wait())
                try:
                    await asyncio.wait({step, abort}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    abort.cancel()
                    if not step.done():  # aborted, or the caller left: let the call cancel itself first
                        step.cancel()
                        await asyncio.wait({step})
                if not step.done() or step.cancelled():
                    found = self.down.get(model)
                    raise found.error() if found else ModelDownError(model, f"model {model} stopped answering")
                try:
                    item = step.result()
                except StopAsyncIteration:
                    return
                except ModelDownError:
                    self.suspect(model)
                    raise
                yield item
        finally:
            calls.discard(aborted)
            if not calls:
                self._calls.pop(model, None)
            await responses.aclose()
