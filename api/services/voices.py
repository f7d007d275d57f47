"""Cloned voices: create (reference audio -> clone prompt on Triton -> store), list, read, update,
delete, usage statistics. Generation with a stored voice is `cloned_voice_tts.py`.

A voice belongs to the API key that created it (`principal.key_id`); a caller that does not see all
(any key but an admin key) finds only its own voices: another key's voice is "not found".
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from functools import partial

import anyio
from sqlmodel import Session

from api.audio.decode import DecodedAudio
from api.audio.fetch import fetch_audio_bytes
from api.catalog import Variant
from api.errors import BadRequestError, ConflictError, NotFoundError, PayloadTooLargeError, ValidationFailed
from api.schemas.tts import GENERATION_FIELDS, GenerationParams, check_language
from api.schemas.voices import (
    TIME_FORMAT,
    MostUsedVoice,
    VoiceBase,
    VoiceCreate,
    VoicePublic,
    VoiceStatsResponse,
    VoiceUpdate,
    slugify,
)
from api.services import clone_prompts, reference
from api.services.api_keys import Principal
from api.services.caller import Caller
from api.services.synthesis import resolve_size
from api.settings import Settings
from api.store import voices as store
from api.store.tables import Voice, utc_now

# 8 hex digits: 4 billion suffixes per name. A collision is caught by the primary key and retried.
_ID_ATTEMPTS = 5


def new_voice_id(name: str) -> str:
    """Readable and unique without the clock: "mi_voz_personal_3f9a0c1b"."""
    return f"{slugify(name)}_{secrets.token_hex(4)}"


def _time(value: datetime | None) -> str | None:
    if value is None:
        return None
    # SQLite hands back naive datetimes: they were stored as UTC.
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime(TIME_FORMAT)


# The public fields that are the row's own columns, as they are (the others are formatted below).
_ROW_FIELDS = VoicePublic.model_fields.keys() - {"created_at", "last_used", "generation_params"}


def public(voice: Voice) -> VoicePublic:
    return VoicePublic(
        created_at=_time(voice.created_at) or "",
        last_used=_time(voice.last_used),
        generation_params=GenerationParams(**{name: getattr(voice, name) for name in GENERATION_FIELDS}),
        **{name: getattr(voice, name) for name in _ROW_FIELDS},
    )


async def reference_bytes(body: VoiceCreate, *, settings: Settings) -> tuple[bytes, str]:
    """The reference audio file of a JSON creation request, and the field it came from."""
    if body.ref_audio_url is not None:
        data = await fetch_audio_bytes(
            body.ref_audio_url,
            max_bytes=settings.max_upload_bytes,
            timeout_seconds=settings.fetch_timeout_seconds,
            allowed_hosts=settings.fetch_allowed_hosts,
        )
        return data, "ref_audio_url"
    return reference.base64_bytes(body.ref_audio_base64 or "", max_bytes=settings.max_upload_bytes), "ref_audio_base64"


async def _decode(data: bytes, *, field: str) -> DecodedAudio:
    try:
        return await reference.decode(data, field=field)
    except (BadRequestError, PayloadTooLargeError) as exc:
        raise type(exc)(f"{field}: {exc.message}", field=field) from exc


# What a creation request gives that the row stores as it is.
_GIVEN_FIELDS = ("name", "description", "ref_text", "language", "x_vector_only", *GENERATION_FIELDS)


def _new_row(body: VoiceBase, owner: str | None) -> Voice:
    now = utc_now()
    return Voice(
        id=new_voice_id(body.name),
        owner=owner,
        created_at=now,
        last_used=now,  # the contract shows last_used equal to created_at until the first use
        use_count=0,
        **{name: getattr(body, name) for name in _GIVEN_FIELDS},
    )


async def create_voice(caller: Caller, *, body: VoiceBase, audio: bytes, audio_field: str) -> VoicePublic:
    """Decode the reference, have the Base model compute the clone prompt, store all three."""
    session, triton, settings, principal = caller.session, caller.triton, caller.settings, caller.principal
    decoded = await _decode(audio, field=audio_field)
    size = resolve_size(body.model_size, Variant.VOICE_CLONE, settings)
    model, weights = await clone_prompts.resolve_model(triton=triton, size=size)
    prompt = await clone_prompts.compute(triton=triton, settings=settings, model=model, audio=decoded, source=body)
    for _ in range(_ID_ATTEMPTS):
        voice = _new_row(body, principal.key_id)
        row = clone_prompts.to_row(prompt, voice_id=voice.id, model=model, weights=weights)
        if await anyio.to_thread.run_sync(partial(store.insert_voice, session, voice=voice, audio=audio, prompt=row)):
            return public(voice)
    raise ConflictError("could not allocate a unique voice id; retry")


async def get_voice(*, session: Session, principal: Principal, voice_id: str) -> Voice:
    voice = await anyio.to_thread.run_sync(partial(store.get_voice, session, voice_id, owner=principal.scope))
    if voice is None:
        raise NotFoundError(f"voice {voice_id!r} not found; see GET /api/v1/cloned-voices", field="voice_id")
    return voice


async def reference_audio(*, session: Session, principal: Principal, voice_id: str) -> bytes:
    """The voice's reference audio as it was given (upload, base64 or fetched)."""
    await get_voice(session=session, principal=principal, voice_id=voice_id)  # another key's: not found
    audio = await anyio.to_thread.run_sync(store.get_audio, session, voice_id)
    if audio is None:  # deleted meanwhile
        raise NotFoundError(f"voice {voice_id!r} not found", field="voice_id")
    return audio


async def list_voices(
    *, session: Session, principal: Principal, language: str | None, limit: int, offset: int
) -> tuple[list[VoicePublic], int]:
    if language is not None:  # the same check, and the same spelling, as at creation
        try:
            language = check_language(language)
        except ValueError as exc:
            raise ValidationFailed(f"language: {exc}", field="language") from exc
    run = partial(store.list_voices, session, language=language, limit=limit, offset=offset, owner=principal.scope)
    voices, total = await anyio.to_thread.run_sync(run)
    return [public(voice) for voice in voices], total


async def update_voice(*, session: Session, principal: Principal, voice_id: str, body: VoiceUpdate) -> VoicePublic:
    changes = body.model_dump(exclude_unset=True, exclude={"generation_params"})
    # Name and language cannot be cleared; description can (null).
    changes = {k: v for k, v in changes.items() if v is not None or k == "description"}
    if body.generation_params is not None:
        changes.update(body.generation_params.model_dump(exclude_unset=True))
    update = partial(store.update_voice, session, voice_id, changes, owner=principal.scope)
    voice = await anyio.to_thread.run_sync(update)
    if voice is None:
        raise NotFoundError(f"voice {voice_id!r} not found", field="voice_id")
    return public(voice)


async def delete_voice(*, session: Session, principal: Principal, voice_id: str) -> None:
    if not await anyio.to_thread.run_sync(partial(store.delete_voice, session, voice_id, owner=principal.scope)):
        raise NotFoundError(f"voice {voice_id!r} not found", field="voice_id")


async def voice_stats(*, session: Session, principal: Principal) -> VoiceStatsResponse:
    """The caller's own voices' statistics (every voice's for an admin key or with auth off)."""
    stats = await anyio.to_thread.run_sync(partial(store.voice_stats, session, owner=principal.scope))
    top = stats.most_used
    return VoiceStatsResponse(
        total_voices=stats.total_voices,
        total_generations=stats.total_generations,
        most_used=None if top is None else MostUsedVoice(voice_id=top.id, name=top.name, use_count=top.use_count),
        voices_by_language=stats.voices_by_language,
    )
