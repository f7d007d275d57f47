"""POST /api/v1/tts/* stops when its client goes away (the handler, and with it its Triton call, is
cancelled at once) or when it passes its deadline (503, cancelled); other routes are untouched."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from api.abandon import AbandonedWorkMiddleware
from api.settings import Settings


class Handler:
    """An ASGI app that reads the body, then works `seconds` before answering 200."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.cancelled, self.finished = seconds, False, False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        while (await receive()).get("more_body"):
            pass
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        self.finished = True
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})


def run(handler: Handler, *, path: str = "/api/v1/tts/custom", leave_after: float | None = None, timeout: float = 30):
    """Run one request; the client disconnects `leave_after` seconds after sending its body."""
    app = AbandonedWorkMiddleware(handler, settings=Settings(sync_request_timeout_seconds=timeout))  # type: ignore[arg-type]
    scope = {"type": "http", "method": "POST", "path": path, "headers": []}
    sent: list[dict[str, Any]] = []
    messages = [
        {"type": "http.request", "body": b'{"text":', "more_body": True},
        {"type": "http.request", "body": b"1}"},
    ]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(leave_after if leave_after is not None else 3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    started = time.monotonic()
    asyncio.run(app(scope, receive, send))
    return sent, time.monotonic() - started


def test_a_client_that_goes_away_cancels_the_work_at_once():
    handler = Handler(seconds=30)
    sent, took = run(handler, leave_after=0.1)
    assert handler.cancelled and not handler.finished and sent == [] and took < 2


def test_past_the_deadline_the_work_is_cancelled_and_answered_503():
    handler = Handler(seconds=30)
    sent, took = run(handler, timeout=0.2)
    assert handler.cancelled and took < 2
    assert sent[0]["status"] == 503 and (b"retry-after", b"5") in sent[0]["headers"]
    body = json.loads(sent[1]["body"])
    assert body["error_type"] == "unavailable" and "longer than 0.2 s" in body["error"], body


def test_work_that_finishes_is_answered_as_it_is():
    handler = Handler(seconds=0.05)
    sent, _ = run(handler, timeout=5)
    assert handler.finished and sent[0]["status"] == 200


def test_other_routes_are_not_watched():
    handler = Handler(seconds=0.3)
    sent, _ = run(handler, path="/api/v1/jobs", leave_after=0.05, timeout=0.1)
    assert handler.finished and not handler.cancelled and sent[0]["status"] == 200
