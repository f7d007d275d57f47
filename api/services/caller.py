"""Who is asking and what a use case may use to answer them: one value a route hands its service."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from api.inference.client import TritonGateway
from api.services.api_keys import Principal
from api.settings import Settings


@dataclass(frozen=True)
class Caller:
    """The request's database session, the Triton gateway, the settings and the API key it came with."""

    session: Session
    triton: TritonGateway
    settings: Settings
    principal: Principal
