"""The synthesis use case: pick the model, run it on Triton (a long text as concurrent segments,
api/services/longform.py), encode the audio, shape the answer."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, replace
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
    GENERATION_FIELDS,
    CustomVoiceRequest,
    GenerationParams,
    SegmentView,
    TTSResponse,
    VoiceCloneURLRequest,
    VoiceDesignRequest,
)
from api.services import longform
from api.services.longform import Utterance
from api.settings import Settings


@dataclass(frozen=True)
class LongText:
    """How a request's text is served: its route's length limit (None: `max_text_chars`, the
    synchronous routes'; jobs pass `job_max_text_chars`), who hears of its segments' progress, and how
    many of its segments may be generated at once."""

    max_chars: int | None = None
    progress: longform.SegmentProgress | None = None
    concurrency: int | None = None
    """Segments generated at once (None: `segment_concurrency`); batch items take 1."""


SYNC = LongText()


def resolve_size(requested: str | None, variant: Variant, settings: Settings) -> str:
    size = requested or settings.default_model_size
    if variant is Variant.VOICE_DESIGN and size != "1.7B":
        raise ValidationFailed("model_size: VoiceDesign exists only as 1.7B upstream", field="model_size")
    return size


def check_text(text: str, settings: Settings, long_text: LongText = SYNC, *, field: str = "text") -> None:
    """422 naming the route's limit (synchronous `max_text_chars`, jobs `job_max_text_chars`)."""
    limit = long_text.max_chars or settings.max_text_chars
    if len(text) > limit:
        where = "a job" if long_text.max_chars else "a synchronous request; submit a job for longer texts"
        raise ValidationFailed(
            f"{field}: {len(text)} characters long; the limit is {limit} characters for {where}", field=field
        )


def sampling_of(params: GenerationParams, seed: int | None) -> dict[str, Any]:
    """A call's sampling fields as a request gives them (None: the checkpoint's default), and its seed."""
    return {name: getattr(params, name) for name in GENERATION_FIELDS} | {"seed": seed}


def custom_voice_call(body: CustomVoiceRequest) -> SynthesisCall:
    sampling = sampling_of(body, body.seed)
    return SynthesisCall(
        text=body.text, language=body.language, speaker=body.speaker, instruct=body.instruction, **sampling
    )


def voice_design_call(body: VoiceDesignRequest) -> SynthesisCall:
    sampling = sampling_of(body, body.seed)
    return SynthesisCall(text=body.text, language=body.language, instruct=body.voice_description, **sampling)


def voice_clone_call(body: VoiceCloneURLRequest, reference: DecodedAudio) -> SynthesisCall:
    return SynthesisCall(
        text=body.text, language=body.language, ref_audio=reference.samples, ref_sample_rate=reference.sample_rate,
        ref_text=body.ref_text, **sampling_of(body, body.seed),
    )  # fmt: skip


async def prepare(*, triton: TritonGateway, settings: Settings, utterance: Utterance) -> tuple[str, Utterance]:
    """The Triton model of the utterance, loaded (or 503), and the utterance with its call within this
    server's max_new_tokens limit (its default when absent): what every synthesis, whole or streamed, runs."""
    model = triton_model_name(utterance.size, utterance.variant)
    await triton.ensure_loaded(
        model, on_demand=settings.load_models_on_demand, load_timeout=settings.model_load_timeout_seconds
    )
    call = utterance.call
    if call.max_new_tokens is None:
        call = replace(call, max_new_tokens=min(settings.default_max_new_tokens, settings.max_new_tokens_limit))
    elif call.max_new_tokens > settings.max_new_tokens_limit:
        raise ValidationFailed(
            f"max_new_tokens: {call.max_new_tokens} exceeds this server's limit of {settings.max_new_tokens_limit}",
            field="max_new_tokens",
        )
    return model, replace(utterance, call=call)


def _segment_views(audio: longform.LongAudio) -> list[SegmentView] | None:
    if not audio.segments:
        return None
    return [
        SegmentView(
            index=piece.index,
            start=piece.segment.start,
            end=piece.segment.end,
            duration_seconds=round(piece.samples.size / piece.rate, 3),
            model=piece.model,
        )
        for piece in audio.segments
    ]


async def synthesize(
    *,
    triton: TritonGateway,
    settings: Settings,
    utterance: Utterance,
    output_format: AudioFormat,
    long_text: LongText = SYNC,
) -> TTSResponse:
    """Run one call on the right Triton model (its text in segments when long) and return the
    contract's response."""
    started = time.perf_counter()
    check_text(utterance.call.text or "", settings, long_text)
    _, utterance = await prepare(triton=triton, settings=settings, utterance=utterance)
    segments = longform.stream_segments(
        triton=triton, settings=settings, utterance=utterance, progress=long_text.progress,
        concurrency=long_text.concurrency,
    )  # fmt: skip
    audio = await longform.joined(segments, settings)
    samples, rate = audio.samples, audio.rate
    # Encoding is CPU work (and ffmpeg for some formats): keep it off the event loop.
    encode_started = time.perf_counter()
    encoded = await anyio.to_thread.run_sync(encode_audio, samples, rate, output_format)
    metrics.observe_encoding(output_format, time.perf_counter() - encode_started)
    return TTSResponse(
        audio_base64=base64.b64encode(encoded).decode("ascii"),
        sample_rate=rate,
        duration_seconds=round(samples.size / rate, 3),
        model_used=model_label(utterance.size, utterance.variant),
        processing_time_seconds=round(time.perf_counter() - started, 3),
        output_format=output_format,
        segments=_segment_views(audio),
    )


async def _as_requested(
    body: CustomVoiceRequest | VoiceDesignRequest | VoiceCloneURLRequest,
    variant: Variant,
    call: SynthesisCall,
    *,
    triton: TritonGateway,
    settings: Settings,
    long_text: LongText,
) -> TTSResponse:
    """`call` on the model size the body asks for, answered in the body's output format."""
    utterance = Utterance(variant, resolve_size(body.model_size, variant, settings), call)
    return await synthesize(
        triton=triton, settings=settings, utterance=utterance, output_format=body.output_format, long_text=long_text
    )


async def synthesize_custom(
    body: CustomVoiceRequest, *, triton: TritonGateway, settings: Settings, long_text: LongText = SYNC
) -> TTSResponse:
    """POST /tts/custom and custom_voice jobs."""
    call = custom_voice_call(body)
    return await _as_requested(body, Variant.CUSTOM_VOICE, call, triton=triton, settings=settings, long_text=long_text)


async def synthesize_design(
    body: VoiceDesignRequest, *, triton: TritonGateway, settings: Settings, long_text: LongText = SYNC
) -> TTSResponse:
    """POST /tts/design and voice_design jobs."""
    call = voice_design_call(body)
    return await _as_requested(body, Variant.VOICE_DESIGN, call, triton=triton, settings=settings, long_text=long_text)


async def synthesize_clone(
    body: VoiceCloneURLRequest,
    reference: DecodedAudio,
    *,
    triton: TritonGateway,
    settings: Settings,
    long_text: LongText = SYNC,
) -> TTSResponse:
    """POST /tts/clone/* and voice_clone_* jobs, once the reference audio is decoded."""
    call = voice_clone_call(body, reference)
    return await _as_requested(body, Variant.VOICE_CLONE, call, triton=triton, settings=settings, long_text=long_text)
