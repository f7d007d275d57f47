"""POST /tts/custom, /tts/design, /tts/clone/url, /tts/clone/upload."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import ValidationError

from api.audio.encode import AudioFormat
from api.catalog import Variant
from api.deps import LimiterDep, SettingsDep, TritonDep
from api.errors import ValidationFailed
from api.schemas.tts import (
    CLONE_LANGUAGE,
    SEED_DESCRIPTION,
    SEED_MAX,
    CustomVoiceRequest,
    ErrorResponse,
    TTSResponse,
    VoiceCloneURLRequest,
    VoiceDesignRequest,
)
from api.services import reference
from api.services.synthesis import resolve_size, synthesize_clone, synthesize_custom, synthesize_design

router = APIRouter(prefix="/tts", tags=["tts"])

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "Reference audio that does not decode or cannot be fetched",
        413: "Reference audio over the size limit",
        422: "A field is invalid (the body names it)",
        429: "Too many requests in flight; retry after Retry-After seconds",
        502: "The inference server failed",
        503: "The inference server or the requested model is not available",
    }.items()
}


@router.post("/custom", response_model=TTSResponse, responses=ERRORS)
async def custom_voice(
    body: CustomVoiceRequest, triton: TritonDep, settings: SettingsDep, limiter: LimiterDep
) -> TTSResponse:
    async with limiter.slot():
        return await synthesize_custom(body, triton=triton, settings=settings)


@router.post("/design", response_model=TTSResponse, responses=ERRORS)
async def voice_design(
    body: VoiceDesignRequest, triton: TritonDep, settings: SettingsDep, limiter: LimiterDep
) -> TTSResponse:
    async with limiter.slot():
        return await synthesize_design(body, triton=triton, settings=settings)


@router.post("/clone/url", response_model=TTSResponse, responses=ERRORS)
async def clone_from_url(
    body: VoiceCloneURLRequest, triton: TritonDep, settings: SettingsDep, limiter: LimiterDep
) -> TTSResponse:
    resolve_size(body.model_size, Variant.VOICE_CLONE, settings)  # a bad size is a 422 before any fetch
    async with limiter.slot():
        ref = await reference.from_url(body.ref_audio_url, settings=settings)
        return await synthesize_clone(body, ref, triton=triton, settings=settings)


@router.post("/clone/upload", response_model=TTSResponse, responses=ERRORS)
async def clone_from_upload(
    triton: TritonDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    ref_audio: Annotated[UploadFile, File(description="Reference audio (WAV, MP3, OGG, FLAC)")],
    text: Annotated[str, Form()],
    ref_text: Annotated[str, Form()],
    language: Annotated[str, Form()] = CLONE_LANGUAGE,
    output_format: Annotated[str, Form()] = AudioFormat.WAV.value,
    model_size: Annotated[str | None, Form()] = None,
    temperature: Annotated[float | None, Form()] = None,
    top_p: Annotated[float | None, Form()] = None,
    top_k: Annotated[int | None, Form()] = None,
    repetition_penalty: Annotated[float | None, Form()] = None,
    max_new_tokens: Annotated[int | None, Form()] = None,
    seed: Annotated[int | None, Form(ge=0, le=SEED_MAX, description=SEED_DESCRIPTION)] = None,
) -> TTSResponse:
    try:  # the same validation as the JSON endpoint, field for field
        body = VoiceCloneURLRequest.model_validate(
            {
                "text": text,
                "ref_text": ref_text,
                "language": language,
                "output_format": output_format,
                "model_size": model_size,
                "ref_audio_url": "upload",
                "temperature": temperature,
                "top_p": top_p,
                "top_k": top_k,
                "repetition_penalty": repetition_penalty,
                "max_new_tokens": max_new_tokens,
                "seed": seed,
            }
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][-1])
        raise ValidationFailed(f"{field}: {first['msg'].removeprefix('Value error, ')}", field=field) from exc
    resolve_size(body.model_size, Variant.VOICE_CLONE, settings)  # a bad size is a 422 before any fetch
    async with limiter.slot():
        ref = await reference.from_upload(ref_audio, settings=settings)
        return await synthesize_clone(body, ref, triton=triton, settings=settings)
