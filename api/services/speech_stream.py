"""Speech streamed as it is generated: the engine's chunks (gRPC streaming, STREAM=true) encoded on
the fly, as raw bytes of the response format or as OpenAI's Server-Sent Events.

The answer starts only once the first chunk is there, so every failure before any audio (a bad
field, a model not loaded, an engine error) is still an error status. Once audio flows, a failure
ends the body early (audio) or sends an `error` event (sse). A text longer than one segment
(api/services/longform.py) is generated as concurrent segments, streamed in order as each is ready,
with the pauses between them. `SpeechStream.aclose` ends it all,
whenever the response ends, however: a client that goes away cancels its generation on Triton (the
engine drops its row within a few steps), stops ffmpeg and frees its in-flight slot.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

import anyio
import numpy as np

from api import metrics
from api.audio.encode import MEDIA_TYPES
from api.audio.stream import StreamFormat, encode_stream, ffmpeg_path, needs_ffmpeg
from api.errors import DATABASE_DOWN, ApiError, BackendError, openai_error
from api.inference.client import TritonGateway
from api.services import longform
from api.services.longform import Utterance
from api.services.synthesis import prepare
from api.settings import Settings
from api.store import voices as store
from api.store.database import Database

FRAME_SECONDS = 0.08  # one codec frame: the unit of the SSE usage's output_tokens
SSE_MEDIA_TYPE = "text/event-stream"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeechPlan(Utterance):
    """What to generate, and who speaks it."""

    voice_id: str | None = None
    """A stored voice that speaks (its use is counted once the audio is out)."""


@dataclass
class Tally:
    """Seconds of audio that came from the engine so far."""

    model: str
    seconds: float = 0.0


@dataclass(frozen=True)
class SpeechOptions:
    fmt: StreamFormat
    speed: float
    sse: bool
    characters: int
    """Length of the input: the SSE usage's input_tokens (the API has no tokenizer)."""


class SpeechStream:
    """The body of one streamed answer and what must happen when it ends, whenever and however."""

    def __init__(self, body: AsyncIterator[bytes], *, media_type: str, model: str, closing: AsyncExitStack):
        self.body = body
        self.media_type = media_type
        self.headers = {"X-Qwen-TTS-Model": model, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        self._closing = closing

    async def aclose(self) -> None:
        """Idempotent. Closing the body first lets it record how it ended."""
        aclose: Callable[[], Awaitable[None]] | None = getattr(self.body, "aclose", None)
        if aclose is not None:
            await aclose()
        await self._closing.aclose()


async def open_stream(
    *,
    triton: TritonGateway,
    settings: Settings,
    plan: SpeechPlan,
    options: SpeechOptions,
    on_success: Callable[[], Awaitable[None]],
    started: float,
    closing: AsyncExitStack,
) -> SpeechStream:
    """Start generating `plan` and wait for its first chunk. `closing` already holds
    what the caller opened (its in-flight slot); on an error here it is closed before raising."""
    try:
        model, utterance = await prepare(triton=triton, settings=settings, utterance=plan)
        call = utterance.call
        if needs_ffmpeg(options.fmt, options.speed):
            ffmpeg_path()  # without ffmpeg: 503 now, not mid-stream
        if longform.splits(call.text or "", settings, call.language):  # segments, in order as each is ready
            source = longform.as_chunks(triton=triton, settings=settings, utterance=utterance)
        else:
            source = triton.synthesize_stream(model, call)
        closing.push_async_callback(source.aclose)
        try:
            samples, rate = await anext(source)
        except StopAsyncIteration:
            raise BackendError(f"model {model} ended its answer without audio") from None
    except BaseException:
        await closing.aclose()
        raise
    tally = Tally(model)
    audio = _counted((samples, rate), source, tally)
    pieces = encode_stream(audio, options.fmt, rate, options.speed)
    body = _events(pieces, tally, options) if options.sse else pieces
    media_type = SSE_MEDIA_TYPE if options.sse else MEDIA_TYPES[options.fmt]
    delivered = _delivered(body, tally, options.fmt, started=started, on_success=on_success)
    return SpeechStream(delivered, media_type=media_type, model=model, closing=closing)


Chunk = tuple[np.ndarray, int]


async def _counted(first: Chunk, rest: AsyncIterator[Chunk], tally: Tally) -> AsyncIterator[np.ndarray]:
    """The first chunk, then the others as they come, counted as streamed audio."""
    samples, rate = first
    while True:
        seconds = samples.size / rate
        tally.seconds += seconds
        metrics.observe_streamed(tally.model, seconds)
        yield samples
        try:
            samples, rate = await anext(rest)
        except StopAsyncIteration:
            return


async def _events(pieces: AsyncIterator[bytes], tally: Tally, options: SpeechOptions) -> AsyncIterator[bytes]:
    """OpenAI's speech events: `speech.audio.delta` per piece, `speech.audio.done` with the usage
    (input characters; output codec frames) and the duration sent; `error` if generation fails."""
    try:
        async for piece in pieces:
            yield sse({"type": "speech.audio.delta", "audio": base64.b64encode(piece).decode("ascii")})
    except ApiError as exc:
        yield sse({"type": "error", **openai_error(exc)[1]})
        return
    frames = round(tally.seconds / FRAME_SECONDS)
    usage = {"input_tokens": options.characters, "output_tokens": frames, "total_tokens": options.characters + frames}
    duration = round(tally.seconds / options.speed, 3)
    yield sse({"type": "speech.audio.done", "usage": usage, "duration_seconds": duration})


def sse(event: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(event, separators=(',', ':'))}\n\n".encode()


async def _delivered(
    body: AsyncIterator[bytes],
    tally: Tally,
    fmt: StreamFormat,
    *,
    started: float,
    on_success: Callable[[], Awaitable[None]],
) -> AsyncIterator[bytes]:
    """The body, timed: first byte, whole call (with how it ended) and audio generated."""
    sent = False
    error: BaseException | None = None
    try:
        async for piece in body:
            if not sent and piece:
                metrics.observe_first_byte(fmt, time.perf_counter() - started)
                sent = True
            yield piece
        await on_success()
    except BaseException as exc:
        error = exc
        raise
    finally:
        gone = isinstance(error, GeneratorExit | asyncio.CancelledError)
        outcome = "cancelled" if gone else metrics.triton_outcome(error)
        metrics.observe_triton(tally.model, outcome, time.perf_counter() - started)
        metrics.observe_audio(tally.model, tally.seconds)


def use_recorder(database: Database, voice_id: str | None) -> Callable[[], Awaitable[None]]:
    """Counts a stored voice's use once its audio is out; a database that is down loses the count
    (logged), never the answer already sent."""

    def record() -> None:
        if voice_id is None:
            return
        try:
            with contextmanager(database.sessions)() as session:
                store.record_use(session, voice_id)
        except DATABASE_DOWN as exc:
            log.warning("use of voice %s not counted: %s", voice_id, exc)

    async def run() -> None:
        await anyio.to_thread.run_sync(record)

    return run
