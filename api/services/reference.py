"""Getting reference audio for voice cloning: from a URL or an upload, capped, decoded."""

from __future__ import annotations

import base64
import binascii

import anyio
from fastapi import UploadFile

from api.audio.decode import DecodedAudio, decode_audio
from api.audio.fetch import fetch_audio_bytes
from api.errors import BadRequestError, PayloadTooLargeError, ValidationFailed
from api.settings import Settings

_CHUNK = 256 * 1024


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


async def decode(data: bytes, *, field: str) -> DecodedAudio:
    try:
        return await anyio.to_thread.run_sync(decode_audio, data)
    except BadRequestError as exc:
        exc.field = field
        raise


async def from_url(url: str, *, settings: Settings) -> DecodedAudio:
    data = await fetch_audio_bytes(
        url,
        max_bytes=settings.max_upload_bytes,
        timeout_seconds=settings.fetch_timeout_seconds,
        allowed_hosts=settings.fetch_allowed_hosts,
    )
    return await decode(data, field="ref_audio_url")


async def from_upload(upload: UploadFile, *, settings: Settings) -> DecodedAudio:
    return await decode(await read_upload(upload, max_bytes=settings.max_upload_bytes), field="ref_audio")


def base64_bytes(value: str, *, max_bytes: int) -> bytes:
    """The bytes of `ref_audio_base64` (data: URIs accepted), checked against the upload limit."""
    field = "ref_audio_base64"
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
