"""FastAPI dependencies, as `Annotated` aliases the routes declare."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlmodel import Session

from api.inference.client import TritonGateway
from api.services.limits import InflightLimiter
from api.settings import Settings
from api.store.database import Database


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_triton(request: Request) -> TritonGateway:
    triton: TritonGateway = request.app.state.triton
    return triton


def get_limiter(request: Request) -> InflightLimiter:
    limiter: InflightLimiter = request.app.state.limiter
    return limiter


def get_session(request: Request) -> Iterator[Session]:
    """One session per request. Services run each query as its own short transaction in a thread."""
    database: Database = request.app.state.database
    yield from database.sessions()


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
TritonDep = Annotated[TritonGateway, Depends(get_triton)]
LimiterDep = Annotated[InflightLimiter, Depends(get_limiter)]
SessionDep = Annotated[Session, Depends(get_session)]

# Paging offset: bounded so that the database (64-bit integers) never sees a number it cannot bind.
MAX_OFFSET = 2**31 - 1
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
