"""The models and voices of the OpenAI-compatible API, as OpenAI's objects. Cloned voices are the
voice store's (`api/services/voices.py`): created, listed and deleted exactly as under /api/v1."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import UploadFile
from sqlmodel import Session

from api.catalog import SPEAKERS
from api.errors import NotFoundError, ValidationFailed
from api.openai_catalog import OPENAI_VOICES, model_choice, model_ids
from api.schemas.openai import ModelList, ModelObject, VoiceObject, VoiceObjectList
from api.schemas.voices import TIME_FORMAT, VoicePublic, voice_from_form
from api.services import voices
from api.services.api_keys import Principal
from api.services.caller import Caller
from api.services.reference import read_upload


def models() -> ModelList:
    return ModelList(data=[ModelObject(id=name) for name in model_ids()])


def model(model_id: str) -> ModelObject:
    if model_choice(model_id) is None:
        raise NotFoundError(f"model: unknown model {model_id!r}; see GET /v1/models", field="model")
    return ModelObject(id=model_id)


def _unix(text: str) -> int:
    return int(datetime.strptime(text, TIME_FORMAT).replace(tzinfo=UTC).timestamp())


def cloned(voice: VoicePublic) -> VoiceObject:
    return VoiceObject(
        id=voice.id,
        name=voice.name,
        type="audio_sample",
        created_at=_unix(voice.created_at),
        language=voice.language,
        description=voice.description,
    )


def presets() -> list[VoiceObject]:
    """The preset speakers, then OpenAI's voice names with the preset each stands for."""
    found = [
        VoiceObject(id=name, name=name, type="preset", language=facts["language"], description=facts["style"])
        for name, facts in SPEAKERS.items()
    ]
    found += [
        VoiceObject(id=alias, name=alias, type="openai", preset=preset, language=SPEAKERS[preset]["language"])
        for alias, preset in OPENAI_VOICES.items()
    ]
    return found


async def list_voices(*, session: Session, principal: Principal, limit: int) -> VoiceObjectList:
    """Presets, OpenAI names, and the caller's newest `limit` cloned voices."""
    found, _ = await voices.list_voices(session=session, principal=principal, language=None, limit=limit, offset=0)
    return VoiceObjectList(data=[*presets(), *(cloned(voice) for voice in found)])


async def create_voice(
    caller: Caller, *, audio_sample: UploadFile, fields: dict[str, Any], kind: str | None
) -> VoiceObject:
    """A cloned voice from an uploaded sample (OpenAI's `type: audio_sample`; `prompt` is not offered:
    VoiceDesign speaks from a description per request, with task_type VoiceDesign)."""
    if kind not in (None, "audio_sample"):
        raise ValidationFailed(f"type: {kind!r} is not supported; use audio_sample", field="type")
    body = voice_from_form(fields)
    audio = await read_upload(audio_sample, max_bytes=caller.settings.max_upload_bytes)
    voice = await voices.create_voice(caller, body=body, audio=audio, audio_field="audio_sample")
    return cloned(voice)
