"""Audio encoded while it is generated: OpenAI's response formats as a byte stream.

`encode_stream` turns the engine's float32 chunks into the bytes of one response format, yielding
each piece as soon as it exists:

    pcm    raw 16-bit little-endian mono at the model's rate (24 kHz), in-process
    wav    a header whose sizes say "unknown length" (0xFFFFFFFF, as OpenAI streams it), then pcm
    mp3    MPEG frames (LAME, 64 kbps CBR; no Xing header: a pipe cannot be rewound to fill it)
    opus   Ogg Opus pages of 20 ms (libopus, the voice-note profile of api/audio/encode.py)
    aac    ADTS frames (ffmpeg's AAC encoder, 64 kbps)
    flac   FLAC frames (the stream header's length is left unknown)

The compressed formats, and any format at a speed other than 1.0, go through one ffmpeg process
per response, fed as chunks arrive (started with the request, so its start-up cost overlaps the
engine's prefill). Speed is `atempo` (time stretch that keeps the pitch), chained for factors
outside its 0.5-2.0 range.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import struct
from collections.abc import AsyncIterator
from enum import StrEnum

import anyio
import numpy as np

from api.audio.encode import MP3_KBPS, OPUS_BITRATE, OPUS_RATE
from api.errors import UnavailableError


class StreamFormat(StrEnum):
    MP3 = "mp3"
    OPUS = "opus"
    AAC = "aac"
    FLAC = "flac"
    WAV = "wav"
    PCM = "pcm"


_CODECS: dict[StreamFormat, list[str]] = {
    StreamFormat.MP3: [
        "-c:a", "libmp3lame", "-b:a", f"{MP3_KBPS}k", "-write_xing", "0", "-id3v2_version", "0", "-f", "mp3",
    ],
    StreamFormat.OPUS: [
        "-ar", str(OPUS_RATE), "-c:a", "libopus", "-application", "voip", "-b:a", OPUS_BITRATE,
        "-vbr", "on", "-frame_duration", "20", "-page_duration", "20000", "-f", "ogg",
    ],
    StreamFormat.AAC: ["-c:a", "aac", "-b:a", "64k", "-f", "adts"],
    StreamFormat.FLAC: ["-c:a", "flac", "-f", "flac"],
    StreamFormat.WAV: ["-c:a", "pcm_s16le", "-f", "s16le"],  # after the header written here
    StreamFormat.PCM: ["-c:a", "pcm_s16le", "-f", "s16le"],
}  # fmt: skip
_READ = 64 * 1024


def pcm16(samples: np.ndarray) -> bytes:
    """float32 in [-1, 1] (clipped, NaN as silence) as 16-bit little-endian PCM."""
    clean = np.clip(np.nan_to_num(np.asarray(samples, np.float32).reshape(-1), nan=0.0), -1.0, 1.0)
    return np.rint(clean * 32767.0).astype("<i2").tobytes()


def wav_header(sample_rate: int) -> bytes:
    """A mono 16-bit WAV header for a stream of unknown length: RIFF and data sizes 0xFFFFFFFF."""
    unknown = 0xFFFFFFFF
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * 2, 2, 16)
    return b"RIFF" + struct.pack("<I", unknown) + b"WAVEfmt " + fmt + b"data" + struct.pack("<I", unknown)


def atempo_filter(speed: float) -> str:
    """`atempo` steps whose product is `speed`, each within the filter's 0.5-2.0."""
    steps: list[float] = []
    rest = speed
    while rest > 2.0:
        steps.append(2.0)
        rest /= 2.0
    while rest < 0.5:
        steps.append(0.5)
        rest /= 0.5
    steps.append(rest)
    return ",".join(f"atempo={step:.6g}" for step in steps)


def needs_ffmpeg(fmt: StreamFormat, speed: float) -> bool:
    return fmt not in (StreamFormat.PCM, StreamFormat.WAV) or speed != 1.0


def ffmpeg_path() -> str:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise UnavailableError("compressed formats and speed need ffmpeg, which is not installed on this server")
    return ffmpeg


def ffmpeg_command(fmt: StreamFormat, sample_rate: int, speed: float) -> list[str]:
    ffmpeg = ffmpeg_path()
    tempo = ["-af", atempo_filter(speed)] if speed != 1.0 else []
    return [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
        # Start encoding from the first bytes: no probing of a raw input whose format is given.
        "-probesize", "32", "-analyzeduration", "0", "-fflags", "+nobuffer",
        "-f", "f32le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0", *tempo, "-ac", "1",
        *_CODECS[fmt], "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
        "-flush_packets", "1", "pipe:1",
    ]  # fmt: skip


async def encode_stream(
    chunks: AsyncIterator[np.ndarray], fmt: StreamFormat, sample_rate: int, speed: float = 1.0
) -> AsyncIterator[bytes]:
    """The bytes of `fmt` for `chunks` (float32 mono at `sample_rate`), each piece as soon as it is
    encoded. An error of `chunks` is raised here once the bytes before it are out."""
    if fmt is StreamFormat.WAV:
        yield wav_header(sample_rate)
    if not needs_ffmpeg(fmt, speed):
        async for samples in chunks:
            if samples.size:
                yield pcm16(samples)
        return
    async for data in _through_ffmpeg(chunks, ffmpeg_command(fmt, sample_rate, speed)):
        yield data


async def _through_ffmpeg(chunks: AsyncIterator[np.ndarray], command: list[str]) -> AsyncIterator[bytes]:
    """Feed `chunks` to ffmpeg from a task of its own while its output is read here: each encoded
    piece leaves as soon as ffmpeg writes it, not when the next chunk arrives."""
    process = await asyncio.create_subprocess_exec(
        *command, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    stdin, stdout, stderr = process.stdin, process.stdout, process.stderr

    async def feed() -> None:
        try:
            async with contextlib.aclosing(chunks) as source:  # type: ignore[type-var]
                async for samples in source:
                    if samples.size:
                        stdin.write(np.clip(np.nan_to_num(samples), -1.0, 1.0).astype("<f4").tobytes())
                        await stdin.drain()
        finally:
            with contextlib.suppress(OSError):
                stdin.close()

    feeder = asyncio.create_task(feed())
    try:
        while data := await stdout.read(_READ):
            yield data
        await feeder  # the source's error, if it failed, once what came before is sent
        code = await process.wait()
        if code != 0:
            tail = (await stderr.read()).decode(errors="replace").strip()[-300:]
            raise RuntimeError(f"ffmpeg failed while streaming (exit {code}): {tail}")
    finally:
        # A client that went away (or an error): stop generating and encoding, whatever cancelled us.
        with anyio.CancelScope(shield=True):
            feeder.cancel()
            if process.returncode is None:
                process.kill()
            await asyncio.gather(feeder, return_exceptions=True)
            await process.wait()
            # asyncio's Process has no close(): its transport would otherwise be closed by the garbage
            # collector, possibly after the event loop (a warning at shutdown).
            transport = getattr(process, "_transport", None)
            if transport is not None:
                transport.close()
