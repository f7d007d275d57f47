"""Bodies of the OpenAI-compatible API (/v1): OpenAI's field names, plus the Qwen extensions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator

from api.audio.stream import StreamFormat
from api.openai_catalog import TaskType
from api.schemas.tts import GenerationParams, ModelSize, ModelText, NonEmptyText, RefText, Seed
from api.schemas.voices import check_language

MAX_INSTRUCTIONS_CHARS = 4096


class VoiceRef(BaseModel):
    """OpenAI's form of a custom voice: `{"id": "voice_1234"}`."""

    id: Annotated[str, StringConstraints(min_length=1, max_length=160)]


class SpeechRequest(GenerationParams):
    """POST /v1/audio/speech. Sampling fields (temperature, top_k, ...) override a cloned voice's
    stored defaults; absent ones keep them (or the checkpoint's)."""

    model: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        description="A model of GET /v1/models: a Triton model name, its hub id, or tts-1, tts-1-hd, gpt-4o-mini-tts"
    )
    input: NonEmptyText = Field(description="The text to speak (at most QWEN_TTS_MAX_TEXT_CHARS characters)")
    voice: Annotated[str, StringConstraints(min_length=1, max_length=160)] | VoiceRef | None = Field(
        default=None,
        description="A preset speaker (any case), an OpenAI voice name (alloy, nova, ...), or a cloned voice's "
        'id or name (also as {"id": ...}). Ignored by VoiceDesign and when ref_audio is given.',
    )
    response_format: StreamFormat = StreamFormat.MP3
    speed: float = Field(default=1.0, ge=0.25, le=4.0, description="Time stretch that keeps the pitch")
    instructions: Annotated[ModelText, StringConstraints(max_length=MAX_INSTRUCTIONS_CHARS)] | None = Field(
        default=None, description="CustomVoice: a style instruction. VoiceDesign: the voice description (required)"
    )
    stream_format: Literal["audio", "sse"] = "audio"
    task_type: TaskType | None = Field(
        default=None, description="Default: the model's variant, else Base with ref_audio or a cloned voice"
    )
    language: str = "Auto"
    ref_audio: Annotated[str, StringConstraints(min_length=1)] | None = Field(
        default=None, description="Base: reference audio as an http(s) URL or base64 (data: URI accepted)"
    )
    ref_text: RefText | None = Field(default=None, description="Base: the transcript of ref_audio")
    x_vector_only_mode: bool = Field(default=False, description="Base: clone from the speaker embedding only")
    seed: Seed = None
    model_size: ModelSize | None = Field(default=None, description="0.6B or 1.7B, when `model` leaves it open")

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        return check_language(value)

    @property
    def voice_name(self) -> str | None:
        return self.voice.id if isinstance(self.voice, VoiceRef) else self.voice


class ModelObject(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "qwen"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelObject]


class VoiceObject(BaseModel):
    """A voice usable as `voice`. `type`: preset, openai (an alias of `preset`), or audio_sample
    (a cloned voice, as OpenAI calls a voice made from a recording)."""

    id: str
    object: Literal["audio.voice"] = "audio.voice"
    name: str
    type: Literal["preset", "openai", "audio_sample"]
    created_at: int = 0
    language: str | None = None
    preset: str | None = Field(default=None, description="The preset speaker an OpenAI voice name stands for")
    description: str | None = None


class VoiceObjectList(BaseModel):
    object: Literal["list"] = "list"
    data: list[VoiceObject]


class VoiceDeleted(BaseModel):
    id: str
    object: Literal["audio.voice.deleted"] = "audio.voice.deleted"
    deleted: bool = True


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorResponse(BaseModel):
    error: OpenAIErrorDetail


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` of a /v1 route: its error statuses, in OpenAI's shape."""
    described = {
        400: "A field is invalid or missing (`param` names it), or the reference audio cannot be used",
        404: "Unknown voice or model",
        409: "No unique voice id could be allocated; retry",
        413: "Reference audio or request body over the size limit",
        429: "Too many requests in flight; retry after Retry-After seconds",
        502: "The inference server failed",
        503: "The inference server, the model or the database is not available",
    }
    return {code: {"model": OpenAIErrorResponse, "description": described[code]} for code in codes}
