"""Abandoned synchronous work stops: POST /api/v1/tts/* runs under a watch for the client going away
and a deadline (`sync_request_timeout_seconds`).

Starlette does not cancel a handler whose client disconnected: the generation would run to its end
for nobody. Once the request body is read, this middleware listens for the ASGI `http.disconnect`
and cancels the handler when it comes (event-driven, no polling); past the deadline it cancels it
and answers 503. Cancelling the handler cancels its gRPC call to Triton, which tells the model, and
the engine drops the row within a few decoding steps. Jobs are not HTTP requests: unaffected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from api.errors import UnavailableError
from api.http_errors import error_response
from api.settings import Settings

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

GUARDED_PREFIX = "/api/v1/tts/"


class _Client:
    """The request's receive channel, split: the body goes to the handler; after it, one reader
    (the watch) waits for the disconnect, and a handler asking again gets that same disconnect."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self.body_read = asyncio.Event()
        self.gone = asyncio.Event()

    async def receive(self) -> Message:
        if self.body_read.is_set():
            await self.gone.wait()
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.disconnect":
            self.gone.set()
        elif message["type"] == "http.request" and not message.get("more_body", False):
            self.body_read.set()
        return message

    async def watch(self) -> None:
        await self.body_read.wait()
        while not self.gone.is_set():
            if (await self._receive())["type"] == "http.disconnect":
                self.gone.set()


class AbandonedWorkMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.timeout = settings.sync_request_timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or scope.get("method") != "POST" or not path.startswith(GUARDED_PREFIX):
            await self.app(scope, receive, send)
            return
        client = _Client(receive)
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        handler = asyncio.ensure_future(self.app(scope, client.receive, tracked))
        watch = asyncio.ensure_future(client.watch())
        gone = asyncio.ensure_future(client.gone.wait())
        try:
            await asyncio.wait({handler, gone}, timeout=self.timeout, return_when=asyncio.FIRST_COMPLETED)
            if handler.done():
                handler.result()
                return
            handler.cancel()  # cancels its Triton call: the engine drops the row
            with contextlib.suppress(asyncio.CancelledError):
                await handler
            if client.gone.is_set():
                log.info("client went away: %s cancelled", path)
                return
            log.warning("%s took longer than %.0f s: cancelled, answered 503", path, self.timeout)
            if not started:
                message = (
                    f"the request took longer than {self.timeout:g} s and was cancelled; "
                    "use POST /api/v1/jobs for long work"
                )
                answer = error_response(UnavailableError(message, headers={"Retry-After": "5"}))
                await answer(scope, client.receive, send)
        finally:
            for task in (watch, gone, handler):
                task.cancel()
