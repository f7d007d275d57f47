"""Long text: split where a reader would pause, each segment a row of the continuous batch (the
segments' gRPC calls run concurrently, `segment_concurrency` at once), joined in order with a short
pause into one track. Text within `segment_max_chars` units is one row, exactly as before.

One voice across segments:
- CustomVoice: every segment has the same speaker (and instruction).
- Voice clone: the clone prompt is built once (PROMPT_ONLY on the Base model) from a raw reference,
  or is the stored voice's, and every segment is generated from that same prompt.
- VoiceDesign: the first segment is designed from the description; its audio and text become the
  clone prompt (PROMPT_ONLY on the Base model of the same size, `voice_clone_<size>`) of every
  other segment, so the voice cannot drift. When that Base model is not loaded (and is not loaded on
  demand) every segment is designed from the description, each with the request's seed plus its index:
  the request still succeeds, a warning is logged, and `segments[].model_used` shows it.

`stream_segments` yields the segments' audio in order as each is ready; `as_chunks` makes that a
stream of audio with the pauses in it (the OpenAI route's streamed answer); `joined` collects them
into one track. All three are plain functions any route can call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace

import numpy as np

from api import metrics
from api.audio.join import faded, join_segments
from api.catalog import Variant, triton_model_name
from api.errors import BackendError, UnavailableError
from api.inference.client import TritonGateway
from api.inference.tensors import SynthesisCall, prompt_call
from api.settings import Settings
from api.text.segments import Segment, split_text, weight
from tts_contract import limits

log = logging.getLogger(__name__)

SegmentProgress = Callable[[int, int], Awaitable[None]]
"""Told (segments done, segments total): once with 0 before the first call, then after each segment."""

ENGINE_MIN_REFERENCE_SECONDS = 0.5  # the engine refuses a shorter clone reference
SEED_SPAN = int(limits.SEED.high) + 1


@dataclass(frozen=True)
class Utterance:
    """What to generate: one call on the model of `variant` and `size`."""

    variant: Variant
    size: str
    call: SynthesisCall


@dataclass(frozen=True)
class SegmentAudio:
    index: int
    segment: Segment
    model: str
    samples: np.ndarray
    rate: int


@dataclass(frozen=True)
class LongAudio:
    samples: np.ndarray
    rate: int
    segments: list[SegmentAudio]
    """Empty when the text was one row."""


def plan(text: str, settings: Settings, language: str | None) -> list[Segment]:
    """The text's segments; one (the text untouched) when it fits the segment budget."""
    if weight(text) <= settings.segment_max_chars:
        return [Segment(0, len(text), text)]
    return split_text(text, settings.segment_max_chars, language)


def _seed(seed: int | None, index: int) -> int | None:
    return None if seed is None else (seed + index) % SEED_SPAN


class _Runner:
    """The calls of one request: bounded concurrency, metrics, progress."""

    def __init__(
        self, triton: TritonGateway, concurrency: int, total: int, progress: SegmentProgress | None, observe: bool
    ):
        self.triton, self.total, self.progress, self.done, self.observe = triton, total, progress, 0, observe
        self.slots = asyncio.Semaphore(concurrency)

    async def run(self, index: int, segment: Segment, model: str, call: SynthesisCall) -> SegmentAudio:
        async with self.slots:
            with metrics.track_triton(model):
                samples, rate = await self.triton.synthesize(model, call)
        if self.observe:
            metrics.observe_audio(model, samples.size / rate)
        self.done += 1
        if self.progress is not None:
            await self.progress(self.done, self.total)
        return SegmentAudio(index, segment, model, samples, rate)


async def _clone_template(triton: TritonGateway, model: str, call: SynthesisCall) -> SynthesisCall:
    """A voice-clone call with its prompt: a raw reference becomes a prompt once, for every segment."""
    if call.ref_audio is None:
        return call
    x_vector_only = call.ref_text is None
    with metrics.track_triton(model):
        prompt = await triton.create_clone_prompt(
            model,
            ref_audio=call.ref_audio,
            ref_sample_rate=int(call.ref_sample_rate or 0),
            ref_text=call.ref_text,
            x_vector_only=x_vector_only,
        )
    return replace(call, ref_audio=None, ref_sample_rate=None, x_vector_only=None, **prompt_call(prompt))


async def _clone_from_design(
    triton: TritonGateway, settings: Settings, first: SegmentAudio, call: SynthesisCall, size: str
) -> tuple[str, SynthesisCall] | None:
    """The Base model and a call cloning the voice of the designed first segment; None when that
    model is unavailable or the audio is too short to be a reference."""
    model = triton_model_name(size, Variant.VOICE_CLONE)
    try:
        await triton.ensure_loaded(
            model, on_demand=settings.load_models_on_demand, load_timeout=settings.model_load_timeout_seconds
        )
    except UnavailableError as exc:
        log.warning("long VoiceDesign text: %s; every segment is designed from the description", exc.message)
        return None
    seconds = first.samples.size / first.rate
    if seconds < ENGINE_MIN_REFERENCE_SECONDS:
        log.warning("long VoiceDesign text: first segment only %.2f s; every segment is designed", seconds)
        return None
    # Within the reference limit the transcript goes along (in-context cloning); past it, the speaker
    # embedding of its first part only.
    fits = seconds <= settings.ref_audio_max_seconds
    reference = first.samples[: int(settings.ref_audio_max_seconds * first.rate)]
    base = SynthesisCall(
        text=None,
        language=call.language,
        ref_audio=reference,
        ref_sample_rate=first.rate,
        ref_text=first.segment.text if fits else None,
        **{name: getattr(call, name) for name in ("temperature", "top_k", "top_p", "repetition_penalty")},
        max_new_tokens=call.max_new_tokens,
    )
    return model, await _clone_template(triton, model, base)


async def stream_segments(
    *,
    triton: TritonGateway,
    settings: Settings,
    utterance: Utterance,
    progress: SegmentProgress | None = None,
    concurrency: int | None = None,
    observe: bool = True,
) -> AsyncGenerator[SegmentAudio, None]:
    """Generate `utterance` (its text split into segments), yielding each segment's audio in order.
    `observe`: count the audio generated in the metrics (False: the caller counts what it streams)."""
    variant, size, call = utterance.variant, utterance.size, utterance.call
    model = triton_model_name(size, variant)
    segments = plan(call.text or "", settings, call.language)
    runner = _Runner(triton, concurrency or settings.segment_concurrency, len(segments), progress, observe)
    if progress is not None:
        await progress(0, len(segments))
    if len(segments) == 1:
        yield await runner.run(0, segments[0], model, call)
        return
    template, rest_model, start = call, model, 0
    if variant is Variant.VOICE_CLONE:
        template = await _clone_template(triton, model, call)
    elif variant is Variant.VOICE_DESIGN:
        first = await runner.run(0, segments[0], model, replace(call, text=segments[0].text))
        yield first
        cloned = await _clone_from_design(triton, settings, first, call, size)
        if cloned is not None:
            rest_model, template = cloned
        start = 1
    tasks = [
        asyncio.create_task(
            runner.run(index, segment, rest_model, replace(template, text=segment.text, seed=_seed(call.seed, index)))
        )
        for index, segment in enumerate(segments[start:], start)
    ]
    try:
        for task in tasks:
            yield await task
    finally:  # a failed segment, or the consumer gone: the others' calls are cancelled (rows freed)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def joined(segments: AsyncIterator[SegmentAudio], settings: Settings) -> LongAudio:
    """The whole track: every segment (of `stream_segments`), joined in order with
    `segment_pause_seconds` between."""
    pieces = [piece async for piece in segments]
    rate = pieces[0].rate
    if any(piece.rate != rate for piece in pieces):
        raise BackendError("the segments came back at different sample rates")
    if len(pieces) == 1:
        return LongAudio(pieces[0].samples, rate, [])
    samples = join_segments(
        [piece.samples for piece in pieces],
        rate,
        pause_seconds=settings.segment_pause_seconds,
        fade_seconds=settings.segment_fade_seconds,
    )
    return LongAudio(samples, rate, pieces)


def splits(text: str, settings: Settings, language: str | None) -> bool:
    """Whether `text` is long enough to be generated in segments."""
    return len(plan(text, settings, language)) > 1


async def as_chunks(
    *, triton: TritonGateway, settings: Settings, utterance: Utterance
) -> AsyncGenerator[tuple[np.ndarray, int], None]:
    """The segments as a stream of (samples, rate) chunks, in order as each is ready: each faded at its
    edges, the pause before every one but the first (the audio `joined` would join, piece by piece)."""
    pieces = stream_segments(triton=triton, settings=settings, utterance=utterance, observe=False)
    try:
        async for piece in pieces:
            samples = faded(piece.samples, round(settings.segment_fade_seconds * piece.rate))
            if piece.index:
                pause = np.zeros(round(settings.segment_pause_seconds * piece.rate), np.float32)
                samples = np.concatenate([pause, samples])
            yield samples, piece.rate
    finally:
        await pieces.aclose()
