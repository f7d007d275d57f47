"""Getting reference audio for voice cloning: from a URL or an upload, capped, decoded."""

from __future__ import annotations

import anyio
from fastapi import UploadFile

from api.audio.decode import DecodedAudio, decode_audio
from api.audio.fetch import fetch_audio_bytes
from api.errors import BadRequestError, PayloadTooLargeError
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
        url, max_bytes=settings.max_upload_bytes, timeout_seconds=settings.fetch_timeout_seconds
    )
    return await decode(data, field="ref_audio_url")


async def from_upload(upload: UploadFile, *, settings: Settings) -> DecodedAudio:
    return await decode(await read_upload(upload, max_bytes=settings.max_upload_bytes), field="ref_audio")
