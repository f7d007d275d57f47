"""The OpenAI-compatible API under /v1: speech (streamed as it is generated), models, voices."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from api.audio.encode import MEDIA_TYPES
from api.audio.stream import StreamFormat
from api.deps import CallerDep, DatabaseDep, LimiterDep, PrincipalDep, SessionDep, SettingsDep, TritonDep
from api.errors import is_openai
from api.http_errors import extend_openapi
from api.schemas.openai import (
    ModelList,
    ModelObject,
    SpeechRequest,
    VoiceDeleted,
    VoiceObject,
    VoiceObjectList,
    error_responses,
)
from api.services import openai_voices, voices
from api.services.openai_speech import speak
from api.services.speech_stream import SSE_MEDIA_TYPE, SpeechStream

router = APIRouter(prefix="/v1", tags=["openai"])

AUDIO: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The audio, sent as it is generated (chunked), or OpenAI's speech events (sse)",
        "content": {media_type: {} for media_type in [*(MEDIA_TYPES[fmt] for fmt in StreamFormat), SSE_MEDIA_TYPE]},
    }
}


class SpeechResponse(StreamingResponse):
    """Streams a SpeechStream and closes it however the response ends (a client that went away too)."""

    def __init__(self, stream: SpeechStream):
        super().__init__(stream.body, media_type=stream.media_type, headers=stream.headers)
        self.stream = stream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            with anyio.CancelScope(shield=True):
                await self.stream.aclose()


@router.post(
    "/audio/speech", response_class=Response, responses={**AUDIO, **error_responses(400, 404, 413, 429, 502, 503)}
)
async def create_speech(
    body: SpeechRequest,
    session: SessionDep,
    database: DatabaseDep,
    triton: TritonDep,
    settings: SettingsDep,
    limiter: LimiterDep,
    principal: PrincipalDep,
) -> Response:
    stream = await speak(
        body, session=session, database=database, triton=triton, settings=settings, principal=principal, slots=limiter
    )
    return SpeechResponse(stream)


@router.get("/models", response_model=ModelList)
async def list_models() -> ModelList:
    return openai_voices.models()


@router.get("/models/{model_id:path}", response_model=ModelObject, responses=error_responses(404))
async def get_model(model_id: str) -> ModelObject:
    return openai_voices.model(model_id)


@router.get("/audio/voices", response_model=VoiceObjectList, responses=error_responses(400, 503))
async def list_voices(
    session: SessionDep, principal: PrincipalDep, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> VoiceObjectList:
    return await openai_voices.list_voices(session=session, principal=principal, limit=limit)


@router.post("/audio/voices", response_model=VoiceObject, responses=error_responses(400, 409, 413, 429, 502, 503))
async def create_voice(
    caller: CallerDep,
    limiter: LimiterDep,
    audio_sample: Annotated[UploadFile, File(description="Reference audio (WAV, MP3, OGG, FLAC), 1 to 30 s")],
    name: Annotated[str, Form()],
    ref_text: Annotated[str, Form(description="Transcript of the sample")],
    language: Annotated[str, Form()] = "Auto",
    description: Annotated[str | None, Form()] = None,
    x_vector_only_mode: Annotated[bool, Form()] = False,
    model_size: Annotated[str | None, Form()] = None,
    consent: Annotated[str | None, Form(description="Accepted for OpenAI clients; not checked")] = None,
    type: Annotated[str | None, Form(description="audio_sample (the only kind)")] = None,
) -> VoiceObject:
    fields: dict[str, Any] = {"name": name, "ref_text": ref_text, "language": language, "description": description}
    fields |= {"x_vector_only": x_vector_only_mode, "model_size": model_size}
    async with limiter.slot():  # creating computes a clone prompt on Triton
        return await openai_voices.create_voice(caller, audio_sample=audio_sample, fields=fields, kind=type)


@router.delete("/audio/voices/{voice_id}", response_model=VoiceDeleted, responses=error_responses(404, 503))
async def delete_voice(voice_id: str, session: SessionDep, principal: PrincipalDep) -> VoiceDeleted:
    await voices.delete_voice(session=session, principal=principal, voice_id=voice_id)
    return VoiceDeleted(id=voice_id)


def document(app: Any) -> None:
    """The OpenAPI schema of /v1 says what it sends: OpenAI's error body, 400 (never 422) for a bad
    field or a body that cannot be parsed."""
    extend_openapi(app, _document)


def _document(schema: dict[str, Any]) -> None:
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/OpenAIErrorResponse"}}}
    for path, item in schema.get("paths", {}).items():
        if not is_openai(path):
            continue
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if "requestBody" in operation or operation.get("parameters"):
                responses.setdefault("400", {"description": "A field is invalid or missing", "content": body})
