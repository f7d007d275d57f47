"""X-Request-ID: one id per request, followed across the stack.

The client's `X-Request-ID` is kept when it is a plausible id (1-128 characters of letters, digits
and `-_.:/+=`), else a new one is made (32 hex digits). It is returned on every response (errors,
413s and 401s included: this middleware is the outermost), is in every log line written while the
request runs (api/logs.py), is sent to Triton as the inference request's id, and is stored on a job
submitted by the request, whose worker runs it under the same id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from typing import Any

HEADER = "X-Request-ID"
MAX_LENGTH = 128
_VALID = re.compile(r"[A-Za-z0-9\-_.:/+=]{1,128}")
_current: ContextVar[str | None] = ContextVar("request_id", default=None)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]], Awaitable[None]]


def current() -> str | None:
    """The id of the request (or job) this code runs for; None outside one."""
    return _current.get()


def use(request_id: str | None) -> None:
    """Run the rest of this task under `request_id` (a job's, in the worker)."""
    _current.set(request_id)


def accepted(value: str | None) -> str:
    """The client's id if it is a plausible one, else a new one."""
    if value is not None and _VALID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Pure ASGI: sets the request's id for its task and adds the header to its response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]], send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(b"x-request-id")
        request_id = accepted(sent.decode("latin-1") if sent is not None else None)
        token = _current.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"x-request-id"]
                message["headers"] = [*headers, (b"x-request-id", request_id.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
