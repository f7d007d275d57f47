"""The one error taxonomy of the API: each error's HTTP status, kind and client-safe message.

Services raise these; `api/http_errors.py` turns each into the contract's JSON body
(`{"success": false, "error": "..."}`) with its status, or, under the OpenAI-compatible prefix
`/v1/`, into OpenAI's body (`{"error": {"message", "type", "param", "code"}}`) with the status
OpenAI's clients expect (`OPENAI_ERRORS`, below). Nothing else in the API picks status codes
for errors. This module imports nothing of the API, so every layer may raise these.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# What SQLAlchemy raises when the database is down, unreachable, or locked past its timeout
# (connection refused, server restart, pool exhausted, SQLite busy): the client gets 503, not 500.
DATABASE_DOWN: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeoutError)


class ApiError(Exception):
    """Base class: a failure with a client-safe message. Each subclass names its HTTP status and its
    kind where it is declared: `class NotFoundError(ApiError, status=404, kind="not_found")`."""

    status_code: int = 500
    kind: str = "internal"

    def __init_subclass__(cls, *, status: int | None = None, kind: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.status_code = status or cls.status_code
        cls.kind = kind or cls.kind

    def __init__(self, message: str, *, field: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"success": False, "error": self.message, "error_type": self.kind}
        if self.field is not None:
            body["field"] = self.field
        return body


class BadRequestError(ApiError, status=400, kind="bad_request"):
    """The request is well-formed but cannot be processed (e.g. audio that does not decode)."""


class ValidationFailed(ApiError, status=422, kind="validation"):
    """A field has an invalid value (unknown speaker, empty text, ...)."""


class ItemsInvalid(ValidationFailed):
    """Some items of a batch are invalid: every one listed (`errors`: line, custom_id, field, error)."""

    def __init__(self, message: str, errors: list[dict[str, Any]]):
        super().__init__(message, field="items")
        self.errors = errors

    def body(self) -> dict[str, Any]:
        return {**super().body(), "errors": self.errors}


class UnauthorizedError(ApiError, status=401, kind="unauthorized"):
    """No API key, or one that is malformed, unknown, wrong or revoked (auth_enabled only)."""

    def __init__(self, message: str):
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class NotFoundError(ApiError, status=404, kind="not_found"):
    """No such voice, job, batch or key: or it is not the caller's."""


class ConflictError(ApiError, status=409, kind="conflict"):
    """Not possible in the resource's current state, or an Idempotency-Key reused for another request."""


class PayloadTooLargeError(ApiError, status=413, kind="payload_too_large"):
    """A body, upload or reference audio over its size limit."""


class OverloadedError(ApiError, status=429, kind="overloaded"):
    """Bounded concurrency is exhausted: answer 429 instead of queueing forever."""


class UnavailableError(ApiError, status=503, kind="unavailable"):
    """A dependency (Triton, a model, the database) is down or not loaded."""


class ModelDownError(UnavailableError):
    """A model's backend process died or stopped serving (every call fails while Triton still calls
    it ready): 503 naming the model, with Retry-After, while the healer (api/healing) reloads it."""

    def __init__(self, model: str, message: str, *, retry_after: float = 5.0):
        super().__init__(message, headers={"Retry-After": str(max(1, round(retry_after)))})
        self.model = model
        self.retry_after = retry_after


class BackendError(ApiError, status=502, kind="backend"):
    """Triton answered with an error that is not the client's fault."""


OPENAI_PREFIX = "/v1/"
"""Paths of the OpenAI-compatible API: their errors take OpenAI's shape."""

OPENAI_ERRORS: dict[str, tuple[int, str]] = {
    "validation": (400, "invalid_request_error"),  # OpenAI answers a bad field with 400, not 422
    "bad_request": (400, "invalid_request_error"),
    "unauthorized": (401, "authentication_error"),
    "not_found": (404, "invalid_request_error"),
    "method_not_allowed": (405, "invalid_request_error"),
    "conflict": (409, "invalid_request_error"),
    "payload_too_large": (413, "invalid_request_error"),
    "overloaded": (429, "rate_limit_error"),
    "backend": (502, "server_error"),
    "unavailable": (503, "server_error"),
    "internal": (500, "server_error"),
}
"""The taxonomy's kind -> (HTTP status, OpenAI error `type`) under /v1/; `code` is the kind itself."""


def is_openai(path: str) -> bool:
    return path.startswith(OPENAI_PREFIX)


def openai_error(exc: ApiError) -> tuple[int, dict[str, Any]]:
    """The status and OpenAI-shaped body of an error of the taxonomy."""
    status, kind = OPENAI_ERRORS.get(exc.kind, (exc.status_code, "server_error"))
    return status, {"error": {"message": exc.message, "type": kind, "param": exc.field, "code": exc.kind}}
