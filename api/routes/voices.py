"""Cloned voices: /cloned-voices (create, upload, list, stats, get, update, delete) and
POST /tts/cloned-voice/generate."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Response, UploadFile

from api.audio.decode import media_type
from api.deps import CallerDep, LimiterDep, PageDep, PrincipalDep, SessionDep, SettingsDep, TritonDep
from api.routes.common import SamplingForm, doc
from api.routes.tts import ERRORS
from api.schemas.pages import page_fields
from api.schemas.tts import TTSResponse
from api.schemas.voices import (
    ClonedVoiceTTSRequest,
    VoiceCreate,
    VoiceDeleted,
    VoiceDetail,
    VoiceList,
    VoiceSaved,
    VoiceStatsResponse,
    VoiceUpdate,
    voice_from_form,
)
from api.services import cloned_voice_tts, voices
from api.services.reference import read_upload

router = APIRouter(prefix="/cloned-voices", tags=["voices"])
tts_router = APIRouter(prefix="/tts", tags=["tts"])

NOT_FOUND = doc({404: "Unknown voice_id"})
STORE_ERRORS = {**NOT_FOUND, **doc({422: "A field is invalid (the body names it)", 503: "The database is unavailable"})}
CREATE_ERRORS = {**ERRORS, **doc({409: "No unique voice id could be allocated; retry"})}


def _created(voice: Any, verb: str) -> VoiceSaved:
    message = f"Voz '{voice.name}' {verb} exitosamente. Use el ID '{voice.id}' para generar audio."
    return VoiceSaved(voice=voice, message=message)


@router.post("", response_model=VoiceSaved, responses=CREATE_ERRORS)
async def create_voice(body: VoiceCreate, caller: CallerDep, limiter: LimiterDep) -> VoiceSaved:
    async with limiter.slot():  # creating computes a clone prompt on Triton
        audio, field = await voices.reference_bytes(body, settings=caller.settings)
        voice = await voices.create_voice(caller, body=body, audio=audio, audio_field=field)
    return _created(voice, "creada")


@router.post("/upload", response_model=VoiceSaved, responses=CREATE_ERRORS)
async def create_voice_from_upload(
    caller: CallerDep,
    limiter: LimiterDep,
    ref_audio: Annotated[UploadFile, File(description="Reference audio (WAV, MP3, OGG, FLAC)")],
    name: Annotated[str, Form()],
    ref_text: Annotated[str, Form()],
    sampling: SamplingForm,
    language: Annotated[str, Form()] = "Spanish",
    description: Annotated[str | None, Form()] = None,
    x_vector_only: Annotated[bool, Form()] = False,
    model_size: Annotated[str | None, Form()] = None,
) -> VoiceSaved:
    fields = {"name": name, "ref_text": ref_text, "language": language, "description": description}
    body = voice_from_form({**fields, "x_vector_only": x_vector_only, "model_size": model_size, **sampling})
    async with limiter.slot():
        audio = await read_upload(ref_audio, max_bytes=caller.settings.max_upload_bytes)
        voice = await voices.create_voice(caller, body=body, audio=audio, audio_field="ref_audio")
    return _created(voice, "creada")


@router.get("", response_model=VoiceList, responses=STORE_ERRORS)
async def list_voices(
    session: SessionDep,
    principal: PrincipalDep,
    page: PageDep,
    language: Annotated[str | None, Query(description="Only voices of this language")] = None,
) -> VoiceList:
    limit, offset = page.limit, page.offset
    found, total = await voices.list_voices(
        session=session, principal=principal, language=language, limit=limit, offset=offset
    )
    return VoiceList(voices=found, **page_fields(total=total, offset=offset, limit=limit, count=len(found)))


# Declared before /{voice_id}: "stats" is a path, not a voice id.
@router.get("/stats", response_model=VoiceStatsResponse, responses=STORE_ERRORS)
async def voice_stats(session: SessionDep, principal: PrincipalDep) -> VoiceStatsResponse:
    return await voices.voice_stats(session=session, principal=principal)


@router.get("/{voice_id}", response_model=VoiceDetail, responses=STORE_ERRORS)
async def get_voice(voice_id: str, session: SessionDep, principal: PrincipalDep) -> VoiceDetail:
    voice = await voices.get_voice(session=session, principal=principal, voice_id=voice_id)
    return VoiceDetail(voice=voices.public(voice))


@router.get(
    "/{voice_id}/audio",
    response_class=Response,
    responses={200: {"content": {"audio/*": {}}, "description": "The reference audio as given"}, **STORE_ERRORS},
)
async def get_voice_audio(voice_id: str, session: SessionDep, principal: PrincipalDep) -> Response:
    audio = await voices.reference_audio(session=session, principal=principal, voice_id=voice_id)
    return Response(audio, media_type=media_type(audio), headers={"Cache-Control": "private, max-age=3600"})


@router.put("/{voice_id}", response_model=VoiceSaved, responses=STORE_ERRORS)
async def update_voice(voice_id: str, body: VoiceUpdate, session: SessionDep, principal: PrincipalDep) -> VoiceSaved:
    voice = await voices.update_voice(session=session, principal=principal, voice_id=voice_id, body=body)
    return VoiceSaved(voice=voice, message=f"Voz '{voice.id}' actualizada exitosamente")


@router.delete("/{voice_id}", response_model=VoiceDeleted, responses=STORE_ERRORS)
async def delete_voice(voice_id: str, session: SessionDep, principal: PrincipalDep) -> VoiceDeleted:
    await voices.delete_voice(session=session, principal=principal, voice_id=voice_id)
    return VoiceDeleted(message=f"Voz '{voice_id}' eliminada exitosamente")


@tts_router.post("/cloned-voice/generate", response_model=TTSResponse, responses={**ERRORS, **NOT_FOUND})
async def generate_with_cloned_voice(
    body: ClonedVoiceTTSRequest,
    session: SessionDep,
    triton: TritonDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    principal: PrincipalDep,
) -> TTSResponse:
    async with limiter.slot():
        return await cloned_voice_tts.generate(
            session=session, triton=triton, settings=settings, principal=principal, body=body
        )
