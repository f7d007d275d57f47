"""Getting reference audio for voice cloning: from a URL or an upload, capped, decoded, checked.

The limits (settings `ref_audio_*`): at least `ref_audio_min_seconds` (default 1 s) and at most
`ref_audio_max_seconds` (30 s; decoding stops there, 413), a sample rate from
`ref_audio_min_sample_rate` (8 kHz) to 192 kHz, and not silent (peak above -60 dBFS): 422 naming
the limit otherwise. Stereo is downmixed and any rate resampled to the model's 24 kHz downstream.
"""

from __future__ import annotations

import base64
import binascii
from functools import partial

import anyio
import numpy as np
from fastapi import UploadFile

from api.audio.decode import MAX_DECODED_SECONDS, DecodedAudio, decode_audio
from api.audio.fetch import fetch_audio_bytes
from api.errors import BadRequestError, PayloadTooLargeError, ValidationFailed
from api.settings import Settings, get_settings

_CHUNK = 256 * 1024
MAX_SAMPLE_RATE = 192_000
SILENCE_PEAK = 1e-3
"""A reference whose loudest sample stays below this (-60 dBFS) holds no voice to clone."""


async def read_upload(upload: UploadFile, *, max_bytes: int) -> bytes:
    """Read an uploaded file, stopping with 413 as soon as it passes `max_bytes`."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLargeError(f"ref_audio is larger than {max_bytes} bytes", field="ref_audio")
        chunks.append(chunk)
    if not size:
        raise BadRequestError("ref_audio is empty", field="ref_audio")
    return b"".join(chunks)


async def decode(data: bytes, *, field: str, settings: Settings | None = None) -> DecodedAudio:
    """A client's reference, decoded (400 if it is not audio) and checked against the limits of
    `settings` (the process's own when not given): 413 past the longest, 422 otherwise."""
    settings = settings or get_settings()
    audio = await _decode(data, field=field, max_seconds=settings.ref_audio_max_seconds)
    check(audio, settings=settings, field=field)
    return audio


async def decode_stored(data: bytes, *, field: str) -> DecodedAudio:
    """A voice's stored reference: checked when the voice was created, so only decoded (limits
    tightened since must not break voices that exist)."""
    return await _decode(data, field=field, max_seconds=MAX_DECODED_SECONDS)


async def _decode(data: bytes, *, field: str, max_seconds: float) -> DecodedAudio:
    try:
        return await anyio.to_thread.run_sync(partial(decode_audio, data, max_seconds=max_seconds))
    except (BadRequestError, PayloadTooLargeError) as exc:
        exc.field = field
        raise


def check(audio: DecodedAudio, *, settings: Settings, field: str) -> None:
    """422 naming the limit for a reference too short, at a sample rate out of bounds, or silent."""
    rate, seconds = audio.sample_rate, audio.duration_seconds
    problem = None
    if rate < settings.ref_audio_min_sample_rate:
        problem = f"its sample rate is {rate} Hz; at least {settings.ref_audio_min_sample_rate} Hz is needed"
    elif rate > MAX_SAMPLE_RATE:
        problem = f"its sample rate is {rate} Hz; at most {MAX_SAMPLE_RATE} Hz is accepted"
    elif seconds < settings.ref_audio_min_seconds:
        problem = (
            f"it is {seconds:.2f} s long; at least {settings.ref_audio_min_seconds:g} s is needed "
            "(3 to 10 s of clear speech recommended)"
        )
    elif float(np.max(np.abs(audio.samples))) < SILENCE_PEAK:
        problem = "it is silent (no sample above -60 dBFS)"
    if problem is not None:
        raise ValidationFailed(f"{field}: the reference audio cannot be used: {problem}", field=field)


async def from_url(url: str, *, settings: Settings) -> DecodedAudio:
    data = await fetch_audio_bytes(
        url,
        max_bytes=settings.max_upload_bytes,
        timeout_seconds=settings.fetch_timeout_seconds,
        allowed_hosts=settings.fetch_allowed_hosts,
    )
    return await decode(data, field="ref_audio_url", settings=settings)


async def from_upload(upload: UploadFile, *, settings: Settings) -> DecodedAudio:
    data = await read_upload(upload, max_bytes=settings.max_upload_bytes)
    return await decode(data, field="ref_audio", settings=settings)


def base64_bytes(value: str, *, max_bytes: int, field: str = "ref_audio_base64") -> bytes:
    """The bytes of `ref_audio_base64` (data: URIs accepted), checked against the upload limit."""
    payload = "".join(value.split(",", 1)[1].split() if value.startswith("data:") else value.split())
    if len(payload) // 4 * 3 > max_bytes + 2:
        raise PayloadTooLargeError(f"{field}: the audio is larger than {max_bytes} bytes", field=field)
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed(f"{field}: not valid base64 ({exc})", field=field) from exc
    if not data:
        raise ValidationFailed(f"{field}: the audio is empty", field=field)
    if len(data) > max_bytes:
        raise PayloadTooLargeError(f"{field}: the audio is larger than {max_bytes} bytes", field=field)
    return data
