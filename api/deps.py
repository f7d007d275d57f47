"""FastAPI dependencies, as `Annotated` aliases the routes declare."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Query, Request
from sqlmodel import Session

from api.errors import UnauthorizedError
from api.inference.client import TritonGateway
from api.services.api_keys import UNRESTRICTED, Principal
from api.services.caller import Caller
from api.services.limits import CallerSlots, InflightLimiter
from api.settings import Settings
from api.store.database import Database

T = TypeVar("T")


def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_triton(request: Request) -> TritonGateway:
    triton: TritonGateway = request.app.state.triton
    return triton


def get_principal(request: Request) -> Principal:
    """The caller, as the auth middleware (api/auth.py) found it; everyone sees all with auth off."""
    settings: Settings = request.app.state.settings
    if not settings.auth_enabled:
        return UNRESTRICTED
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:  # a route the middleware let through unchecked: fail closed
        raise UnauthorizedError("missing API key")
    return principal


def get_limiter(request: Request, principal: Annotated[Principal, Depends(get_principal)]) -> CallerSlots:
    """The in-flight limits (in all and per API key) for this caller."""
    limiter: InflightLimiter = request.app.state.limiter
    return CallerSlots(limiter, principal.key_id)


def get_session(request: Request) -> Iterator[Session]:
    """One session per request. Services run each query as its own short transaction in a thread."""
    database: Database = request.app.state.database
    yield from database.sessions()


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
TritonDep = Annotated[TritonGateway, Depends(get_triton)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]
LimiterDep = Annotated[CallerSlots, Depends(get_limiter)]
SessionDep = Annotated[Session, Depends(get_session)]
DatabaseDep = Annotated[Database, Depends(get_database)]

# Paging offset: bounded so that the database (64-bit integers) never sees a number it cannot bind.
MAX_OFFSET = 2**31 - 1
OffsetQuery = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


@dataclass(frozen=True)
class PageQuery:
    """The page a listing asks for: at most `limit` items, after the first `offset`."""

    limit: int
    offset: int


def get_page(limit: Annotated[int, Query(ge=1, le=500)] = 100, offset: OffsetQuery = 0) -> PageQuery:
    return PageQuery(limit=limit, offset=offset)


PageDep = Annotated[PageQuery, Depends(get_page)]


def get_caller(session: SessionDep, triton: TritonDep, settings: SettingsDep, principal: PrincipalDep) -> Caller:
    return Caller(session=session, triton=triton, settings=settings, principal=principal)


CallerDep = Annotated[Caller, Depends(get_caller)]
"""Everything a use case needs of the request, for routes that only pass it on."""


@dataclass(frozen=True)
class Synthesizer:
    """What a synchronous TTS route needs: Triton, the settings and the caller's in-flight slots."""

    triton: TritonGateway
    settings: Settings
    slots: CallerSlots

    async def run(self, synthesize: Callable[..., Awaitable[T]], *args: Any) -> T:
        """`synthesize(*args, triton=..., settings=...)` in one of the caller's in-flight slots (429
        when there is none)."""
        async with self.slots.slot():
            return await synthesize(*args, triton=self.triton, settings=self.settings)


def get_synthesizer(triton: TritonDep, settings: SettingsDep, limiter: LimiterDep) -> Synthesizer:
    return Synthesizer(triton=triton, settings=settings, slots=limiter)


SynthesizerDep = Annotated[Synthesizer, Depends(get_synthesizer)]
