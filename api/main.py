"""Build the FastAPI app: routers, error handlers, and the lifespan of shared clients."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import auth, logs, playground
from api.abandon import AbandonedWorkMiddleware
from api.body_limit import RequestBodyLimitMiddleware
from api.healing.healer import Healer
from api.http_errors import extend_openapi, install_error_handlers
from api.inference.client import TritonGateway
from api.jobs.worker import JobWorker, drain_on_signals
from api.metrics import serving
from api.request_id import RequestIdMiddleware
from api.routes import batches, info, jobs, openai, tts, voices
from api.schemas.tts import document_seed
from api.services.limits import InflightLimiter
from api.settings import Settings, get_settings
from api.store.database import Database

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    logs.configure(settings.log_format)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.database = Database(
            settings.database_url,
            timeout_seconds=settings.database_timeout_seconds,
            pool_size=settings.database_pool_size,
        )
        # Migrations run before serving; a database that is down is retried on first use instead.
        await anyio.to_thread.run_sync(app.state.database.try_migrate)
        app.state.triton = TritonGateway(
            settings.triton_url,
            timeout_seconds=settings.triton_timeout_seconds,
            connect_timeout_seconds=settings.triton_connect_timeout_seconds,
        )
        app.state.healer = Healer(triton=app.state.triton, database=app.state.database, settings=settings)
        if settings.model_healing_enabled:
            app.state.healer.start()
        await start_jobs(app, settings)
        stop_metrics = serving.serve_on_port(settings.metrics_port) if settings.metrics_port else None
        try:
            yield
        finally:
            if stop_metrics is not None:
                stop_metrics()
            await stop_jobs(app, settings)
            await app.state.healer.stop()
            await app.state.triton.close()
            app.state.database.dispose()
            serving.mark_worker_exit()

    app = FastAPI(title="Qwen3-TTS API", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    # Innermost middleware: every body is capped, a declared oversize one refused before it is read.
    app.add_middleware(RequestBodyLimitMiddleware, settings=settings)
    # Synchronous TTS stops when its client goes away or its deadline passes (the row leaves the batch).
    app.add_middleware(AbandonedWorkMiddleware, settings=settings)
    app.state.limiter = InflightLimiter(settings.max_inflight_requests, per_key=settings.max_inflight_requests_per_key)
    # Middleware runs outermost last-added first: metrics, then CORS (a preflight needs no key), then keys.
    if settings.auth_enabled:
        app.add_middleware(auth.AuthMiddleware, settings=settings)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=settings.cors_allow_credentials,
            allow_methods=["*"],
            allow_headers=["*"],
        )
    app.add_middleware(serving.MetricsMiddleware)
    app.add_middleware(RequestIdMiddleware)  # outermost: every response carries X-Request-ID, errors too
    install_error_handlers(app)
    extend_openapi(app, document_seed)
    openai.document(app)
    if settings.auth_enabled:
        auth.document(app)
    if not settings.metrics_port:
        app.include_router(serving.router)  # /metrics, unprefixed: where Prometheus scrapes
    app.include_router(info.router, prefix=API_PREFIX)
    app.include_router(tts.router, prefix=API_PREFIX)
    app.include_router(voices.router, prefix=API_PREFIX)
    app.include_router(voices.tts_router, prefix=API_PREFIX)
    app.include_router(jobs.router, prefix=API_PREFIX)
    app.include_router(openai.router)  # /v1: OpenAI's clients expect a base URL ending in /v1
    if settings.playground_enabled:
        playground.mount(app)
    app.include_router(batches.router, prefix=API_PREFIX)
    return app


async def start_jobs(app: FastAPI, settings: Settings) -> None:
    """The job worker (unless this replica only serves the API), and the shutdown signal that stops
    it claiming and ends SSE streams (clients reconnect elsewhere) before connections are drained."""
    app.state.jobs_closing = asyncio.Event()
    app.state.job_worker = None
    if settings.job_workers_enabled:
        app.state.job_worker = JobWorker(database=app.state.database, triton=app.state.triton, settings=settings)
        app.state.job_worker.start()

    def closing() -> None:
        app.state.jobs_closing.set()
        if app.state.job_worker is not None:
            app.state.job_worker.drain()

    if threading.current_thread() is threading.main_thread():
        drain_on_signals(closing)


async def stop_jobs(app: FastAPI, settings: Settings) -> None:
    app.state.jobs_closing.set()
    if app.state.job_worker is not None:
        await app.state.job_worker.stop(settings.job_shutdown_timeout_seconds)


app = create_app()
