"""POST /tts/custom, /tts/design, /tts/clone/url, /tts/clone/upload."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from pydantic import ValidationError

from api.audio.encode import AudioFormat
from api.catalog import Variant
from api.deps import LimiterDep, SettingsDep, TritonDep
from api.errors import ValidationFailed
from api.inference.tensors import SynthesisCall
from api.schemas.tts import (
    CustomVoiceRequest,
    ErrorResponse,
    TTSResponse,
    VoiceCloneURLRequest,
    VoiceDesignRequest,
)
from api.services import reference
from api.services.synthesis import reference_fields, resolve_size, sampling_fields, synthesize

router = APIRouter(prefix="/tts", tags=["tts"])

ERRORS = {
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
async def custom_voice(body: CustomVoiceRequest, triton: TritonDep, settings: SettingsDep, limiter: LimiterDep):
    size = resolve_size(body.model_size, Variant.CUSTOM_VOICE, settings)
    call = SynthesisCall(
        text=body.text, language=body.language, speaker=body.speaker, instruct=body.instruction, **sampling_fields(body)
    )
    async with limiter.slot():
        return await synthesize(
            triton=triton, settings=settings, variant=Variant.CUSTOM_VOICE, size=size, call=call,
            output_format=body.output_format,
        )


@router.post("/design", response_model=TTSResponse, responses=ERRORS)
async def voice_design(body: VoiceDesignRequest, triton: TritonDep, settings: SettingsDep, limiter: LimiterDep):
    size = resolve_size(body.model_size, Variant.VOICE_DESIGN, settings)
    call = SynthesisCall(
        text=body.text, language=body.language, instruct=body.voice_description, **sampling_fields(body)
    )
    async with limiter.slot():
        return await synthesize(
            triton=triton, settings=settings, variant=Variant.VOICE_DESIGN, size=size, call=call,
            output_format=body.output_format,
        )


@router.post("/clone/url", response_model=TTSResponse, responses=ERRORS)
async def clone_from_url(body: VoiceCloneURLRequest, triton: TritonDep, settings: SettingsDep, limiter: LimiterDep):
    size = resolve_size(body.model_size, Variant.VOICE_CLONE, settings)
    async with limiter.slot():
        ref = await reference.from_url(body.ref_audio_url, settings=settings)
        call = SynthesisCall(
            text=body.text, language=body.language, **reference_fields(ref, body.ref_text), **sampling_fields(body)
        )
        return await synthesize(
            triton=triton, settings=settings, variant=Variant.VOICE_CLONE, size=size, call=call,
            output_format=body.output_format,
        )


@router.post("/clone/upload", response_model=TTSResponse, responses=ERRORS)
async def clone_from_upload(
    triton: TritonDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    ref_audio: Annotated[UploadFile, File(description="Reference audio (WAV, MP3, OGG, FLAC)")],
    text: Annotated[str, Form()],
    ref_text: Annotated[str, Form()],
    language: Annotated[str, Form()] = "Spanish",
    output_format: Annotated[AudioFormat, Form()] = AudioFormat.WAV,
    model_size: Annotated[str | None, Form()] = None,
    temperature: Annotated[float | None, Form()] = None,
    top_p: Annotated[float | None, Form()] = None,
    top_k: Annotated[int | None, Form()] = None,
    repetition_penalty: Annotated[float | None, Form()] = None,
    max_new_tokens: Annotated[int | None, Form()] = None,
):
    try:  # the same validation as the JSON endpoint, field for field
        body = VoiceCloneURLRequest(
            text=text, ref_text=ref_text, language=language, output_format=output_format, model_size=model_size,
            ref_audio_url="upload", temperature=temperature, top_p=top_p, top_k=top_k,
            repetition_penalty=repetition_penalty, max_new_tokens=max_new_tokens,
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValidationFailed(f"{first['loc'][-1]}: {first['msg']}", field=str(first["loc"][-1])) from exc
    size = resolve_size(body.model_size, Variant.VOICE_CLONE, settings)
    async with limiter.slot():
        ref = await reference.from_upload(ref_audio, settings=settings)
        call = SynthesisCall(
            text=body.text, language=body.language, **reference_fields(ref, body.ref_text), **sampling_fields(body)
        )
        return await synthesize(
            triton=triton, settings=settings, variant=Variant.VOICE_CLONE, size=size, call=call,
            output_format=body.output_format,
        )
