"""GET /health, /models, /speakers, /languages."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.catalog import LANGUAGE_CHOICES, LANGUAGE_NOTES, SPEAKERS
from api.deps import SettingsDep, TritonDep
from api.schemas.info import HealthResponse, LanguagesResponse, ModelsResponse, SpeakersResponse
from api.schemas.tts import ErrorResponse
from api.services import status

router = APIRouter(tags=["info"])
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"model": ErrorResponse, "description": "Triton unreachable or not ready"}
}


@router.get(
    "/health",
    response_model=HealthResponse,
    responses={503: {"model": HealthResponse, "description": "Triton or the database unreachable or not ready"}},
    summary="Readiness: Triton and the database can serve",
)
async def health(request: Request, triton: TritonDep, settings: SettingsDep) -> HealthResponse | JSONResponse:
    found = await status.health(triton=triton, settings=settings, database=request.app.state.database)
    if found.status == "unhealthy":
        return JSONResponse(status_code=503, content=found.model_dump(), headers={"Retry-After": "5"})
    return found


@router.get("/health/live", summary="Liveness: the API process answers (no dependency checked)")
async def live() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/models", response_model=ModelsResponse, responses=UNAVAILABLE)
async def models(triton: TritonDep, settings: SettingsDep) -> ModelsResponse:
    return await status.models(triton=triton, settings=settings)


@router.get("/speakers", response_model=SpeakersResponse)
async def speakers() -> SpeakersResponse:
    return SpeakersResponse(speakers=list(SPEAKERS), details=SPEAKERS)


@router.get("/languages", response_model=LanguagesResponse)
async def languages() -> LanguagesResponse:
    return LanguagesResponse(languages=LANGUAGE_CHOICES, notes=LANGUAGE_NOTES)
