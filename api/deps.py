"""FastAPI dependencies, as `Annotated` aliases the routes declare."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.inference.client import TritonGateway
from api.services.limits import InflightLimiter
from api.settings import Settings


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_triton(request: Request) -> TritonGateway:
    triton: TritonGateway = request.app.state.triton
    return triton


def get_limiter(request: Request) -> InflightLimiter:
    limiter: InflightLimiter = request.app.state.limiter
    return limiter


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
TritonDep = Annotated[TritonGateway, Depends(get_triton)]
LimiterDep = Annotated[InflightLimiter, Depends(get_limiter)]
