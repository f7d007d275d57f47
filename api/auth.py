"""Authentication of every request (with `auth_enabled`): an ASGI middleware in front of the routes,
so no route can be forgotten and nothing of a request (not even its body) is read before its key
is checked; and the OpenAPI description of it.

Open without a key (probes, scraping, documentation, the playground's static files): OPEN_PATHS
and OPEN_PREFIXES. Everything else, unknown paths
included, answers 401 without a valid key. The caller found is `request.state.principal`, which
routes get through `PrincipalDep` (api/deps.py).
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import DATABASE_DOWN, ApiError, is_openai
from api.http_errors import database_down_response, error_response, extend_openapi
from api.services import api_keys
from api.settings import Settings
from api.store.database import Database

API_PREFIX = "/api/v1"
OPEN_PATHS = frozenset(
    {
        f"{API_PREFIX}/health",  # readiness probe
        f"{API_PREFIX}/health/live",  # liveness probe
        "/metrics",  # Prometheus
        "/openapi.json",
        "/docs",
        "/docs/oauth2-redirect",
        "/redoc",
        "/",  # the playground page (api/playground): its API calls send the user's key
        "/playground",
    }
)
OPEN_PREFIXES = ("/playground/",)
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <API key>"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}

log = logging.getLogger(__name__)


class AuthMiddleware:
    """Checks the key of every request but the open ones; answers 401 (or 503 when the database
    cannot be read) itself, in the taxonomy's body."""

    def __init__(self, app: ASGIApp, *, settings: Settings):
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS or scope["path"].startswith(OPEN_PREFIXES):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = api_keys.presented_key(authorization=headers.get("authorization"), x_api_key=headers.get("x-api-key"))
        database: Database = scope["app"].state.database
        try:
            with database.session() as session:
                principal = await api_keys.authenticate(session, key, settings=self.settings)
        except ApiError as exc:
            response = error_response(exc, scope["path"])
        except DATABASE_DOWN as exc:
            response = database_down_response(exc, scope["path"])
        except Exception:
            log.exception("authentication failed")  # our bug: the client gets no internals
            response = error_response(ApiError("internal server error"), scope["path"])
        else:
            scope.setdefault("state", {})["principal"] = principal
            await self.app(scope, receive, send)
            return
        await response(scope, receive, send)


def document(app: Any) -> None:
    """The OpenAPI schema, when keys are required: the two ways to send one, required by every
    operation but the open ones, each of which documents its 401."""
    extend_openapi(app, _document)


def _document(schema: dict[str, Any]) -> None:
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for path, item in schema.get("paths", {}).items():
        if path in OPEN_PATHS:
            continue
        shape = "OpenAIErrorResponse" if is_openai(path) else "ErrorResponse"
        body = {"application/json": {"schema": {"$ref": f"#/components/schemas/{shape}"}}}
        for operation in item.values():
            operation["security"] = [{"bearer": []}, {"apiKey": []}]
            responses = operation.setdefault("responses", {})
            responses["401"] = {"description": "Missing, invalid or revoked API key", "content": body}
