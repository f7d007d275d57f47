"""The one error taxonomy of the API and its single mapping to HTTP status and body.

Services raise these; `install_error_handlers` turns each into the contract's JSON body
(`{"success": false, "error": "..."}`) with a real HTTP status. Nothing else in the API picks
status codes for errors.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

# What SQLAlchemy raises when the database is down, unreachable, or locked past its timeout
# (connection refused, server restart, pool exhausted, SQLite busy): the client gets 503, not 500.
DATABASE_DOWN: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeoutError)

log = logging.getLogger("api.errors")


class ApiError(Exception):
    """Base class: a failure with a client-safe message."""

    status_code = 500
    kind = "internal"

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


class BadRequestError(ApiError):
    """The request is well-formed but cannot be processed (e.g. audio that does not decode)."""

    status_code = 400
    kind = "bad_request"


class ValidationFailed(ApiError):
    """A field has an invalid value (unknown speaker, empty text, ...)."""

    status_code = 422
    kind = "validation"


class UnauthorizedError(ApiError):
    """No API key, or one that is malformed, unknown, wrong or revoked (auth_enabled only)."""

    status_code = 401
    kind = "unauthorized"

    def __init__(self, message: str):
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class NotFoundError(ApiError):
    status_code = 404
    kind = "not_found"


class ConflictError(ApiError):
    status_code = 409
    kind = "conflict"


class PayloadTooLargeError(ApiError):
    status_code = 413
    kind = "payload_too_large"


class OverloadedError(ApiError):
    """Bounded concurrency is exhausted: answer 429 instead of queueing forever."""

    status_code = 429
    kind = "overloaded"


class UnavailableError(ApiError):
    """A dependency (Triton, a model, the database) is down or not loaded."""

    status_code = 503
    kind = "unavailable"


class BackendError(ApiError):
    """Triton answered with an error that is not the client's fault."""

    status_code = 502
    kind = "backend"


def _validation_message(errors: list[dict[str, Any]]) -> tuple[str, str | None]:
    """The first problem, named by its field: `speaker: unknown speaker 'X'`."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "form")]
    field = ".".join(loc) or None
    msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if first.get("type") == "missing":
        msg = "field required"
    return (f"{field}: {msg}" if field else msg), field


def document_errors(app: Any) -> None:
    """Make the OpenAPI schema describe the error bodies the handlers below really send: FastAPI's
    default 422 (`HTTPValidationError`, a `detail` list) becomes our `ErrorResponse`, and every operation
    that takes a body documents the 400 of a body that cannot be parsed (not JSON, not UTF-8, bad form)."""
    extend_openapi(app, _document_errors)


def extend_openapi(app: Any, edit: Callable[[dict[str, Any]], None]) -> None:
    """Have `edit` change the app's OpenAPI schema once, when it is first built."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            edit(build())
        schema: dict[str, Any] = app.openapi_schema
        return schema

    app.openapi = openapi


def _document_errors(schema: dict[str, Any]) -> None:
    from api.schemas.tts import ErrorResponse

    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorResponse", ErrorResponse.model_json_schema())
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            responses = operation.get("responses", {})
            if "422" in responses:
                responses["422"] = {"description": "A field is invalid (the body names it)", "content": body}
            if "requestBody" in operation and "400" not in responses:
                responses["400"] = {"description": "The request body cannot be parsed", "content": body}
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def error_response(exc: ApiError) -> Any:
    """The JSON response of an error of the taxonomy (also for middleware, outside the handlers)."""
    from fastapi.responses import JSONResponse

    return JSONResponse(status_code=exc.status_code, content=exc.body(), headers=exc.headers)


def database_down_response(exc: Exception) -> Any:
    log.warning("database unavailable: %s", exc)
    return error_response(UnavailableError("the database is unavailable; retry shortly", headers={"Retry-After": "5"}))


def install_error_handlers(app: Any) -> None:
    """Map the taxonomy (and FastAPI's own validation errors) to status and JSON body, once."""
    from fastapi import Request
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException as StarletteHTTPException

    document_errors(app)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        response: JSONResponse = error_response(exc)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        message, field = _validation_message(list(exc.errors()))
        return JSONResponse(status_code=422, content=ValidationFailed(message, field=field).body())

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        body = {"success": False, "error": str(exc.detail), "error_type": kind}
        return JSONResponse(status_code=exc.status_code, content=body, headers=getattr(exc, "headers", None))

    async def _database_down(_: Request, exc: Exception) -> JSONResponse:
        response: JSONResponse = database_down_response(exc)
        return response

    for database_error in DATABASE_DOWN:
        app.add_exception_handler(database_error, _database_down)

    @app.exception_handler(Exception)
    async def _bug(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")  # our bug: the client gets no internals
        return JSONResponse(status_code=500, content=ApiError("internal server error").body())
