"""Validating a job's `request_data` at submission, exactly as its synchronous endpoint would:
the same pydantic model, the same size and text-length checks, the voice must exist. An invalid
job is refused with 422 naming the field (`request_data.speaker`), never queued."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx
from pydantic import BaseModel, ValidationError
from sqlmodel import Session

from api.catalog import Variant
from api.errors import ApiError, ValidationFailed
from api.schemas.jobs import REQUEST_MODELS, JobType, VoiceCloneFileRequest, VoiceCloneURLRequest
from api.schemas.voices import ClonedVoiceTTSRequest
from api.services import reference
from api.services.api_keys import Principal
from api.services.longform import SegmentProgress
from api.services.synthesis import LongText, check_text, resolve_size
from api.services.voices import get_voice
from api.settings import Settings

VARIANTS = {
    JobType.CUSTOM_VOICE: Variant.CUSTOM_VOICE,
    JobType.VOICE_DESIGN: Variant.VOICE_DESIGN,
    JobType.VOICE_CLONE_URL: Variant.VOICE_CLONE,
    JobType.VOICE_CLONE_FILE: Variant.VOICE_CLONE,
    JobType.CLONED_VOICE_GENERATE: Variant.VOICE_CLONE,
}
PREFIX = "request_data"


def parse(job_type: JobType, data: dict[str, Any]) -> BaseModel:
    """The job's request model (422 naming `request_data.<field>` when invalid)."""
    try:
        return REQUEST_MODELS[job_type].model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join([PREFIX, *(str(part) for part in first["loc"])])
        message = "field required" if first["type"] == "missing" else str(first["msg"]).removeprefix("Value error, ")
        raise ValidationFailed(f"{field}: {message}", field=field) from exc


def job_text(settings: Settings, progress: SegmentProgress | None = None, *, batch_item: bool = False) -> LongText:
    """A job's text: up to `job_max_text_chars`, its segments' progress reported to `progress`; a
    batch item's segments one at a time (the batch's items already fill the engine's rows)."""
    return LongText(max_chars=settings.job_max_text_chars, progress=progress, concurrency=1 if batch_item else None)


def reference_audio(value: str, *, max_bytes: int) -> bytes:
    """The bytes of `ref_audio_base64` (data: URIs accepted), within the upload limit."""
    return reference.base64_bytes(value, max_bytes=max_bytes)


def _check_url(url: str) -> None:
    field = "ref_audio_url"
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError) as exc:
        raise ValidationFailed(f"{field}: not a valid URL", field=field) from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValidationFailed(f"{field}: only http and https URLs with a host are allowed", field=field)


def _prefixed(exc: ApiError) -> ApiError:
    """`text: ...` from a shared check becomes `request_data.text: ...`."""
    if exc.field and not exc.field.startswith(PREFIX):
        if exc.message.startswith(exc.field):
            exc.message = f"{PREFIX}.{exc.message}"
        exc.field = f"{PREFIX}.{exc.field}"
    return exc


async def _check_voice(
    voice_id: str, *, session: Session, principal: Principal, seen: dict[str, ApiError | None] | None
) -> None:
    """The voice must be one the caller may use (404 otherwise); `seen` remembers answers (a batch)."""
    if seen is not None and voice_id in seen:
        if (error := seen[voice_id]) is not None:
            raise error
        return
    try:
        await get_voice(session=session, principal=principal, voice_id=voice_id)
    except ApiError as exc:
        if seen is not None:
            seen[voice_id] = exc
        raise
    if seen is not None:
        seen[voice_id] = None


async def validate(
    job_type: JobType,
    data: dict[str, Any],
    *,
    settings: Settings,
    session: Session,
    principal: Principal,
    voices: dict[str, ApiError | None] | None = None,
) -> BaseModel:
    """The validated request, after every check its synchronous endpoint makes before inference (a
    stored voice must be one the caller may use; `voices` caches that answer across a batch's items)."""
    body = parse(job_type, data)
    try:
        resolve_size(getattr(body, "model_size", None), VARIANTS[job_type], settings)
        check_text(getattr(body, "text", ""), settings, job_text(settings))
        if isinstance(body, VoiceCloneURLRequest):
            _check_url(body.ref_audio_url)
        elif isinstance(body, VoiceCloneFileRequest):
            reference_audio(body.ref_audio_base64, max_bytes=settings.max_upload_bytes)
        elif isinstance(body, ClonedVoiceTTSRequest):
            # 404 now rather than a failed job later
            await _check_voice(body.voice_id, session=session, principal=principal, seen=voices)
    except ApiError as exc:
        raise _prefixed(exc) from None
    return body


def fingerprint(job_type: JobType, body: BaseModel) -> str:
    """Identity of a request, to tell a retry (same key, same request) from a key reused for another."""
    canonical = json.dumps({"job_type": job_type.value, "request": body.model_dump(mode="json")}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()
