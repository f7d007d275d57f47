"""The error taxonomy's (api/errors.py) single mapping to HTTP: the contract's JSON body with the
error's status (OpenAI's body and status under /v1/), the handlers that answer every exception so,
and the OpenAPI schema of those bodies."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.errors import DATABASE_DOWN, ApiError, UnavailableError, ValidationFailed, is_openai, openai_error
from api.schemas.tts import ErrorResponse

log = logging.getLogger(__name__)


def _validation_message(errors: list[dict[str, Any]]) -> tuple[str, str | None]:
    """The first problem, named by its field: `speaker: unknown speaker 'X'`."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
    loc = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path", "form")]
    field = ".".join(loc) or None
    msg = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if first.get("type") == "missing":
        msg = "field required"
    return (f"{field}: {msg}" if field else msg), field


def document_errors(app: FastAPI) -> None:
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
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault("ErrorResponse", ErrorResponse.model_json_schema())
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}
    for route, path in schema.get("paths", {}).items():
        if is_openai(route):
            continue  # documented by api/routes/openai.py in OpenAI's shape
        for operation in path.values():
            responses = operation.get("responses", {})
            if "422" in responses:
                responses["422"] = {"description": "A field is invalid (the body names it)", "content": body}
            if "requestBody" in operation and "400" not in responses:
                responses["400"] = {"description": "The request body cannot be parsed", "content": body}
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)


def error_response(exc: ApiError, path: str = "") -> JSONResponse:
    """The JSON response of an error of the taxonomy (also for middleware, outside the handlers),
    in OpenAI's shape for a path under /v1/."""
    if is_openai(path):
        status, body = openai_error(exc)
        return JSONResponse(status_code=status, content=body, headers=exc.headers)
    return JSONResponse(status_code=exc.status_code, content=exc.body(), headers=exc.headers)


def database_down_response(exc: Exception, path: str = "") -> JSONResponse:
    log.warning("database unavailable: %s", exc)
    down = UnavailableError("the database is unavailable; retry shortly", headers={"Retry-After": "5"})
    return error_response(down, path)


def install_error_handlers(app: FastAPI) -> None:
    """Map the taxonomy (and FastAPI's own validation errors) to status and JSON body, once."""
    document_errors(app)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        message, field = _validation_message(list(exc.errors()))
        return error_response(ValidationFailed(message, field=field), request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        if is_openai(request.url.path):
            error = ApiError(str(exc.detail), headers=getattr(exc, "headers", None))
            error.status_code, error.kind = exc.status_code, kind
            return error_response(error, request.url.path)
        body = {"success": False, "error": str(exc.detail), "error_type": kind}
        return JSONResponse(status_code=exc.status_code, content=body, headers=getattr(exc, "headers", None))

    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        return database_down_response(exc, request.url.path)

    for database_error in DATABASE_DOWN:
        app.add_exception_handler(database_error, _database_down)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error")  # our bug: the client gets no internals
        return error_response(ApiError("internal server error"), request.url.path)
