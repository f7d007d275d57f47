"""The synthesis use case: pick the model, run it on Triton, encode the audio, shape the answer."""

from __future__ import annotations

import base64
import time
from dataclasses import replace
from typing import Any

import anyio

from api import metrics
from api.audio.decode import DecodedAudio
from api.audio.encode import AudioFormat, encode_audio
from api.catalog import Variant, model_label, triton_model_name
from api.errors import ValidationFailed
from api.inference.client import TritonGateway
from api.inference.tensors import SynthesisCall
from api.schemas.tts import (
    CustomVoiceRequest,
    TTSBase,
    TTSResponse,
    VoiceCloneURLRequest,
    VoiceDesignRequest,
)
from api.settings import Settings


def resolve_size(requested: str | None, variant: Variant, settings: Settings) -> str:
    size = requested or settings.default_model_size
    if variant is Variant.VOICE_DESIGN and size != "1.7B":
        raise ValidationFailed("model_size: VoiceDesign exists only as 1.7B upstream", field="model_size")
    return size


def check_text(text: str, settings: Settings, *, field: str = "text") -> None:
    if len(text) > settings.max_text_chars:
        raise ValidationFailed(
            f"{field}: {len(text)} characters long; the limit is {settings.max_text_chars} characters", field=field
        )


def _sampling(params: TTSBase) -> dict[str, Any]:
    return {
        "seed": params.seed,
        "temperature": params.temperature,
        "top_k": params.top_k,
        "top_p": params.top_p,
        "repetition_penalty": params.repetition_penalty,
        "max_new_tokens": params.max_new_tokens,
    }


def custom_voice_call(body: CustomVoiceRequest) -> SynthesisCall:
    return SynthesisCall(
        text=body.text, language=body.language, speaker=body.speaker, instruct=body.instruction, **_sampling(body)
    )


def voice_design_call(body: VoiceDesignRequest) -> SynthesisCall:
    return SynthesisCall(text=body.text, language=body.language, instruct=body.voice_description, **_sampling(body))


def voice_clone_call(body: VoiceCloneURLRequest, reference: DecodedAudio) -> SynthesisCall:
    return SynthesisCall(
        text=body.text,
        language=body.language,
        ref_audio=reference.samples,
        ref_sample_rate=reference.sample_rate,
        ref_text=body.ref_text,
        **_sampling(body),
    )


async def prepare(
    *, triton: TritonGateway, settings: Settings, variant: Variant, size: str, call: SynthesisCall
) -> tuple[str, SynthesisCall]:
    """The Triton model of `variant` and `size`, loaded (or 503), and `call` within this server's
    max_new_tokens limit (its default when absent): what every synthesis, whole or streamed, runs."""
    model = triton_model_name(size, variant)
    await triton.ensure_loaded(
        model, on_demand=settings.load_models_on_demand, load_timeout=settings.model_load_timeout_seconds
    )
    if call.max_new_tokens is None:
        call = replace(call, max_new_tokens=min(settings.default_max_new_tokens, settings.max_new_tokens_limit))
    elif call.max_new_tokens > settings.max_new_tokens_limit:
        raise ValidationFailed(
            f"max_new_tokens: {call.max_new_tokens} exceeds this server's limit of {settings.max_new_tokens_limit}",
            field="max_new_tokens",
        )
    return model, call


async def synthesize(
    *,
    triton: TritonGateway,
    settings: Settings,
    variant: Variant,
    size: str,
    call: SynthesisCall,
    output_format: AudioFormat,
) -> TTSResponse:
    """Run one call on the right Triton model and return the contract's response."""
    started = time.perf_counter()
    check_text(call.text or "", settings)
    model, call = await prepare(triton=triton, settings=settings, variant=variant, size=size, call=call)
    with metrics.track_triton(model):
        samples, rate = await triton.synthesize(model, call)
    metrics.observe_audio(model, samples.size / rate)
    # Encoding is CPU work (and ffmpeg for some formats): keep it off the event loop.
    encode_started = time.perf_counter()
    encoded = await anyio.to_thread.run_sync(encode_audio, samples, rate, output_format)
    metrics.observe_encoding(output_format, time.perf_counter() - encode_started)
    return TTSResponse(
        audio_base64=base64.b64encode(encoded).decode("ascii"),
        sample_rate=rate,
        duration_seconds=round(samples.size / rate, 3),
        model_used=model_label(size, variant),
        processing_time_seconds=round(time.perf_counter() - started, 3),
        output_format=output_format,
    )


async def _as_requested(
    body: CustomVoiceRequest | VoiceDesignRequest | VoiceCloneURLRequest,
    variant: Variant,
    call: SynthesisCall,
    *,
    triton: TritonGateway,
    settings: Settings,
) -> TTSResponse:
    """`call` on the model size the body asks for, answered in the body's output format."""
    size = resolve_size(body.model_size, variant, settings)
    return await synthesize(
        triton=triton, settings=settings, variant=variant, size=size, call=call, output_format=body.output_format
    )


async def synthesize_custom(body: CustomVoiceRequest, *, triton: TritonGateway, settings: Settings) -> TTSResponse:
    """POST /tts/custom and custom_voice jobs."""
    return await _as_requested(body, Variant.CUSTOM_VOICE, custom_voice_call(body), triton=triton, settings=settings)


async def synthesize_design(body: VoiceDesignRequest, *, triton: TritonGateway, settings: Settings) -> TTSResponse:
    """POST /tts/design and voice_design jobs."""
    return await _as_requested(body, Variant.VOICE_DESIGN, voice_design_call(body), triton=triton, settings=settings)


async def synthesize_clone(
    body: VoiceCloneURLRequest, reference: DecodedAudio, *, triton: TritonGateway, settings: Settings
) -> TTSResponse:
    """POST /tts/clone/* and voice_clone_* jobs, once the reference audio is decoded."""
    call = voice_clone_call(body, reference)
    return await _as_requested(body, Variant.VOICE_CLONE, call, triton=triton, settings=settings)
