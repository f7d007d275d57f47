"""Build the FastAPI app: routers, error handlers, and the lifespan of shared clients."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api.errors import install_error_handlers
from api.inference.client import TritonGateway
from api.routes import info, tts
from api.services.limits import InflightLimiter
from api.settings import Settings, get_settings

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.triton = TritonGateway(
            settings.triton_url,
            timeout_seconds=settings.triton_timeout_seconds,
            connect_timeout_seconds=settings.triton_connect_timeout_seconds,
        )
        try:
            yield
        finally:
            await app.state.triton.close()

    app = FastAPI(title="Qwen3-TTS API", version="0.1.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.limiter = InflightLimiter(settings.max_inflight_requests)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["*"], allow_headers=["*"]
        )
    install_error_handlers(app)
    app.include_router(info.router, prefix=API_PREFIX)
    app.include_router(tts.router, prefix=API_PREFIX)
    return app


app = create_app()
