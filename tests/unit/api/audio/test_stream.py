"""Streaming encoders: every OpenAI format as ffprobe reads it, pieces out before the input ends,
speed as a pitch-keeping time stretch, and a client that leaves stopping both ends."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import numpy as np
import pytest

from api.audio.stream import StreamFormat, atempo_filter, encode_stream, pcm16, wav_header
from tests.audio_probe import probe

RATE = 24000
CHUNK = 15360  # 8 codec frames: what the engine sends per chunk
CODECS = {"mp3": "mp3", "opus": "opus", "aac": "aac", "flac": "flac", "wav": "pcm_s16le", "pcm": "pcm_s16le"}


def tone(samples: int, start: int = 0) -> np.ndarray:
    t = (np.arange(samples) + start) / RATE
    return (0.4 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


async def chunks(count: int, log: list[str] | None = None) -> AsyncIterator[np.ndarray]:
    try:
        for index in range(count):
            yield tone(CHUNK, index * CHUNK)
            await asyncio.sleep(0)
    finally:
        if log is not None:
            log.append("closed")


async def collect(fmt: StreamFormat, count: int = 3, speed: float = 1.0) -> bytes:
    return b"".join([piece async for piece in encode_stream(chunks(count), fmt, RATE, speed)])


@pytest.mark.parametrize("fmt", list(StreamFormat))
def test_every_format_is_mono_of_the_right_codec_and_length(fmt: StreamFormat) -> None:
    data = asyncio.run(collect(fmt))
    found = probe(data, raw_pcm=fmt is StreamFormat.PCM)
    assert found.codec == CODECS[fmt] and found.channels == 1
    assert found.duration == pytest.approx(3 * CHUNK / RATE, rel=0.05)


@pytest.mark.parametrize("speed", [0.25, 0.5, 2.0, 4.0])
def test_speed_stretches_time_and_keeps_the_pitch(speed: float) -> None:
    data = asyncio.run(collect(StreamFormat.PCM, count=4, speed=speed))
    samples = np.frombuffer(data, "<i2").astype(np.float32)
    assert samples.size / RATE == pytest.approx(4 * CHUNK / RATE / speed, rel=0.05)
    spectrum = np.abs(np.fft.rfft(samples[: RATE // 2]))
    assert np.argmax(spectrum) * 2 == pytest.approx(220, abs=6)  # bins of 2 Hz: still 220 Hz


def test_pcm_and_wav_are_sent_chunk_by_chunk() -> None:
    async def first_two(fmt: StreamFormat) -> list[bytes]:
        pieces = encode_stream(chunks(10), fmt, RATE)
        got = [await anext(pieces), await anext(pieces)]
        await pieces.aclose()
        return got

    pcm = asyncio.run(first_two(StreamFormat.PCM))
    assert pcm[0] == pcm16(tone(CHUNK)) and len(pcm[1]) == 2 * CHUNK
    wav = asyncio.run(first_two(StreamFormat.WAV))
    assert wav[0] == wav_header(RATE) and len(wav[0]) == 44
    assert struct.unpack("<4sI4s", wav[0][:12]) == (b"RIFF", 0xFFFFFFFF, b"WAVE")


def test_a_compressed_stream_yields_before_its_input_ends() -> None:
    async def run() -> tuple[bytes, list[str]]:
        log: list[str] = []
        pieces = encode_stream(chunks(1000, log), StreamFormat.MP3, RATE)
        first = await anext(pieces)  # 1000 chunks would be 640 s of audio: this comes long before
        await pieces.aclose()  # a client that went away
        return first, log

    first, log = asyncio.run(run())
    assert first and log == ["closed"]


def test_pcm16_clips_and_silences_nan() -> None:
    values = np.frombuffer(pcm16(np.array([2.0, -2.0, np.nan, 0.5], np.float32)), "<i2")
    assert values.tolist() == [32767, -32767, 0, 16384]


def test_atempo_steps_stay_in_the_filters_range() -> None:
    assert atempo_filter(1.5) == "atempo=1.5"
    assert atempo_filter(4.0) == "atempo=2,atempo=2"
    assert atempo_filter(0.25) == "atempo=0.5,atempo=0.5"
    assert atempo_filter(3.0) == "atempo=2,atempo=1.5"
