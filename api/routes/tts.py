"""POST /tts/custom, /tts/design, /tts/clone/url, /tts/clone/upload."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import ValidationError

from api.audio.encode import AudioFormat
from api.catalog import Variant
from api.deps import SynthesizerDep
from api.errors import ValidationFailed
from api.routes.common import SamplingForm, doc
from api.schemas.tts import (
    CLONE_LANGUAGE,
    SEED_DESCRIPTION,
    SEED_MAX,
    CustomVoiceRequest,
    TTSResponse,
    VoiceCloneURLRequest,
    VoiceDesignRequest,
)
from api.services import reference
from api.services.synthesis import resolve_size, synthesize_clone, synthesize_custom, synthesize_design

router = APIRouter(prefix="/tts", tags=["tts"])

ERRORS = doc(
    {
        400: "Reference audio that does not decode or cannot be fetched",
        413: "Reference audio over the size limit",
        422: "A field is invalid (the body names it)",
        429: "Too many requests in flight; retry after Retry-After seconds",
        502: "The inference server failed",
        503: "The inference server or the requested model is not available",
    }
)


@router.post("/custom", response_model=TTSResponse, responses=ERRORS)
async def custom_voice(body: CustomVoiceRequest, synthesizer: SynthesizerDep) -> TTSResponse:
    return await synthesizer.run(synthesize_custom, body)


@router.post("/design", response_model=TTSResponse, responses=ERRORS)
async def voice_design(body: VoiceDesignRequest, synthesizer: SynthesizerDep) -> TTSResponse:
    return await synthesizer.run(synthesize_design, body)


@router.post("/clone/url", response_model=TTSResponse, responses=ERRORS)
async def clone_from_url(body: VoiceCloneURLRequest, synthesizer: SynthesizerDep) -> TTSResponse:
    settings = synthesizer.settings
    resolve_size(body.model_size, Variant.VOICE_CLONE, settings)  # a bad size is a 422 before any fetch
    async with synthesizer.slots.slot():
        ref = await reference.from_url(body.ref_audio_url, settings=settings)
        return await synthesize_clone(body, ref, triton=synthesizer.triton, settings=settings)


@router.post("/clone/upload", response_model=TTSResponse, responses=ERRORS)
async def clone_from_upload(
    synthesizer: SynthesizerDep,
    ref_audio: Annotated[UploadFile, File(description="Reference audio (WAV, MP3, OGG, FLAC)")],
    text: Annotated[str, Form()],
    ref_text: Annotated[str, Form()],
    sampling: SamplingForm,
    language: Annotated[str, Form()] = CLONE_LANGUAGE,
    output_format: Annotated[str, Form()] = AudioFormat.WAV.value,
    model_size: Annotated[str | None, Form()] = None,
    seed: Annotated[int | None, Form(ge=0, le=SEED_MAX, description=SEED_DESCRIPTION)] = None,
) -> TTSResponse:
    fields: dict[str, Any] = {"text": text, "ref_text": ref_text, "language": language, "output_format": output_format}
    fields |= {"model_size": model_size, "ref_audio_url": "upload", **sampling, "seed": seed}
    try:  # the same validation as the JSON endpoint, field for field
        body = VoiceCloneURLRequest.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][-1])
        raise ValidationFailed(f"{field}: {first['msg'].removeprefix('Value error, ')}", field=field) from exc
    settings = synthesizer.settings
    resolve_size(body.model_size, Variant.VOICE_CLONE, settings)  # a bad size is a 422 before any fetch
    async with synthesizer.slots.slot():
        ref = await reference.from_upload(ref_audio, settings=settings)
        return await synthesize_clone(body, ref, triton=synthesizer.triton, settings=settings)
