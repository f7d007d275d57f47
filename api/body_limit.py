"""A cap on the size of every request body, enforced before and while it is read (413).

The largest legitimate body is a reference recording: a multipart upload, or base64 in JSON
(`ref_audio_base64` of voice creation and of jobs). Without this cap Starlette would spool a 1 GB
multipart upload to a temporary file, or FastAPI buffer a 1 GB JSON body in memory, before any
route could refuse it. Here a declared `Content-Length` over the limit is refused before the
application runs, and a chunked body is counted as it arrives and refused the moment it passes the
limit: the rest is never read.

Starlette's own RequestBodyLimitMiddleware answers in plain text, not the contract's JSON body;
this one answers like every other error (api/errors.py).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import PayloadTooLargeError
from api.http_errors import error_response
from api.settings import Settings

FIELDS_ALLOWANCE = 1024 * 1024
"""Room for everything but the audio: text (5000 characters, JSON-escaped), form fields, framing."""


def body_limit(settings: Settings) -> int:
    """`max_request_bytes`, or by default the largest reference audio base64-encoded (4 bytes per 3)
    plus FIELDS_ALLOWANCE: an upload within max_upload_bytes always fits, in either form."""
    if settings.max_request_bytes:
        return settings.max_request_bytes
    return -(-settings.max_upload_bytes // 3) * 4 + FIELDS_ALLOWANCE


class _BodyTooLarge(Exception):
    """Raised into the application from `receive` when the body passes the limit."""


class RequestBodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.max_bytes = body_limit(settings)
        self.message = (
            f"the request body is larger than the {self.max_bytes} bytes allowed "
            f"(reference audio: at most {settings.max_upload_bytes} bytes)"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)  # nothing of the body is read
            return
        received = 0
        exceeded = started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the application's answer to the failed read (FastAPI: a 400) gives way to our 413
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except _BodyTooLarge:
            if started:
                raise
        if exceeded and not started:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Connection: close, as the unread rest of the body makes the connection unusable.
        error = PayloadTooLargeError(self.message, headers={"Connection": "close"})
        await error_response(error, scope["path"])(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
