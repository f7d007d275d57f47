"""How the metrics of api/metrics are served: the `/metrics` route or a port of their own, every
uvicorn worker's values in multiprocess mode, and the ASGI middleware that counts and times every
HTTP request by route template."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

from fastapi import APIRouter
from fastapi import routing as _fastapi_routing
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
    start_http_server,
)
from starlette.responses import Response

from api.metrics import HTTP_DURATION, HTTP_REQUESTS, INFLIGHT, METHODS, MULTIPROC_ENV, UNMATCHED_ROUTE

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = logging.getLogger(__name__)

_FASTAPI_SCOPE_KEY = getattr(_fastapi_routing, "_FASTAPI_SCOPE_KEY", "fastapi")


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def collecting_registry() -> CollectorRegistry:
    """What a scrape reads: every worker's files in multiprocess mode, else this process's registry."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics_response() -> Response:
    """The Prometheus text exposition of all metrics."""
    return Response(generate_latest(collecting_registry()), media_type=CONTENT_TYPE_LATEST)


def serve_on_port(port: int) -> Callable[[], None] | None:
    """Serve the metrics on a port of their own (`metrics_port`): the function that stops it, or None
    when the port is taken, by another uvicorn worker of the same server that serves them already
    (in multiprocess mode each serves every worker's values) or by something else (logged)."""
    try:
        server, _thread = start_http_server(port, registry=collecting_registry())
    except OSError as exc:
        log.warning("metrics port %d not served by this process: %s", port, exc)
        return None

    def stop() -> None:
        server.shutdown()
        server.server_close()

    return stop


router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
def metrics() -> Response:
    return metrics_response()


def mark_worker_exit(pid: int | None = None) -> None:
    """Multiprocess mode: drop this worker's live gauges (call at the end of the app's lifespan)."""
    if multiprocess_dir():
        multiprocess.mark_process_dead(os.getpid() if pid is None else pid)


def route_template(scope: Scope) -> str:
    """The matched route's template with every router prefix (`/api/v1/cloned-voices/{voice_id}`),
    never the raw path; `<unmatched>` when no route matched (404).

    FastAPI >= 0.16x no longer copies included routes with their prefix: `scope["route"]` is the
    original route (`/cloned-voices/{voice_id}`), and the full template is on the effective route
    context FastAPI keeps in the scope; older versions put the prefixed route in `scope["route"]`.
    Without either, the static prefix is recovered from the raw path (only when it holds no path
    parameter value, so no identifier can reach a label)."""
    fastapi_scope = scope.get(_FASTAPI_SCOPE_KEY)
    if isinstance(fastapi_scope, dict):
        full = getattr(fastapi_scope.get("effective_route_context"), "path_format", None)
        if isinstance(full, str) and full:
            return full
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if route is None or not isinstance(template, str) or not template:
        return UNMATCHED_ROUTE
    regex = getattr(route, "path_regex", None)
    path = str(scope.get("path", ""))
    if regex is None or regex.match(path):
        return template
    values = [str(v) for v in (scope.get("path_params") or {}).values()]
    for index, char in enumerate(path):
        if char == "/" and index and regex.match(path[index:]):
            prefix = path[:index]
            return (prefix if not any(v and v in prefix for v in values) else "/<prefix>") + template
    return template


class MetricsMiddleware:
    """Pure ASGI middleware: counts and times every HTTP request by route template.

    Add it with `app.add_middleware(MetricsMiddleware)`. Routes in `skip_routes` (templates) are
    not recorded: by default the `/metrics` scrape itself."""

    def __init__(self, app: ASGIApp, *, skip_routes: Collection[str] = ("/metrics",)) -> None:
        self.app = app
        self.skip_routes = frozenset(skip_routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        INFLIGHT.inc()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            INFLIGHT.dec()
            route = route_template(scope)
            if route not in self.skip_routes:
                method = str(scope.get("method", "")).upper()
                method = method if method in METHODS else "OTHER"
                HTTP_REQUESTS.labels(route=route, method=method, status=str(status)).inc()
                HTTP_DURATION.labels(route=route, method=method).observe(time.perf_counter() - started)
