"""Request and response bodies of the cloned-voice endpoints (the contract's field names)."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from api.audio.encode import AudioFormat
from api.errors import ValidationFailed
from api.schemas.pages import Page
from api.schemas.tts import GenerationParams, ModelSize, NonEmptyText, RefText, Seed, check_language

NAME_MAX_CHARS = 100
SLUG_MAX_CHARS = 48
# The contract shows times as "2024-01-06 15:30:45"; they are UTC.
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def slugify(name: str) -> str:
    """ "Mi Voz Personal" -> "mi_voz_personal": accents folded, anything else becomes "_"."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "_", folded).strip("_")[:SLUG_MAX_CHARS].strip("_")


def check_name(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("name must not be empty or whitespace")
    if len(value) > NAME_MAX_CHARS:
        raise ValueError(f"name is {len(value)} characters long; the limit is {NAME_MAX_CHARS}")
    if not slugify(value):
        raise ValueError("name needs at least one letter or digit (A-Z, 0-9, accents allowed): it becomes the id")
    return value


Description = Annotated[str, StringConstraints(max_length=1000)]


class VoiceBase(GenerationParams):
    """What describes a voice at creation, whatever the reference audio comes from."""

    name: str = Field(description="Shown name, 1-100 characters; the id is derived from it")
    description: Description | None = None
    ref_text: RefText = Field(description="Transcript of the reference audio")
    language: str = "Spanish"
    x_vector_only: bool = Field(default=False, description="Clone from the speaker embedding only (no ICL)")
    model_size: ModelSize | None = Field(default=None, description="Base model that computes the first prompt")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str) -> str:
        return check_language(value)


class VoiceCreate(VoiceBase):
    """JSON creation: the reference audio by URL or inline as base64 (exactly one)."""

    ref_audio_url: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None
    ref_audio_base64: str | None = Field(default=None, description="The audio file's bytes, base64 (data: URI ok)")

    @model_validator(mode="after")
    def _one_source(self) -> VoiceCreate:
        if (self.ref_audio_url is None) == (self.ref_audio_base64 is None):
            raise ValueError("give exactly one of ref_audio_url or ref_audio_base64 (or POST /cloned-voices/upload)")
        return self


class VoiceUpdate(BaseModel):
    """Fields left out stay as they are; in `generation_params`, a field set to null is cleared."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    description: Description | None = None
    language: str | None = None
    generation_params: GenerationParams | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else check_name(value)

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return None if value is None else check_language(value)


class VoicePublic(BaseModel):
    id: str
    name: str
    description: str | None
    ref_text: str
    language: str
    created_at: str
    last_used: str | None
    use_count: int
    x_vector_only: bool
    generation_params: GenerationParams


class VoiceSaved(BaseModel):
    success: bool = True
    voice: VoicePublic
    message: str


class VoiceList(Page):
    voices: list[VoicePublic]


class VoiceDetail(BaseModel):
    voice: VoicePublic


class VoiceDeleted(BaseModel):
    success: bool = True
    message: str


class MostUsedVoice(BaseModel):
    voice_id: str
    name: str
    use_count: int


class VoiceStatsResponse(BaseModel):
    total_voices: int
    total_generations: int
    most_used: MostUsedVoice | None = Field(description="null until some voice has been used")
    voices_by_language: dict[str, int]


class ClonedVoiceTTSRequest(GenerationParams):
    """POST /tts/cloned-voice/generate. Sampling fields given here override the voice's defaults."""

    text: NonEmptyText
    seed: Seed = None
    voice_id: Annotated[str, StringConstraints(min_length=1, max_length=160)]
    language: str | None = Field(default=None, description="Default: the voice's language")
    output_format: AudioFormat = AudioFormat.WAV
    use_voice_defaults: bool = Field(default=True, description="Start from the generation params stored with the voice")
    model_size: ModelSize | None = None

    @field_validator("language")
    @classmethod
    def _language(cls, value: str | None) -> str | None:
        return None if value is None else check_language(value)


def voice_from_form(fields: dict[str, Any]) -> VoiceBase:
    """A voice described by form fields (an upload), with the same validation as the JSON endpoint,
    field for field, and the same 422 naming the field (None values are left out)."""
    try:
        return VoiceBase.model_validate({key: value for key, value in fields.items() if value is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][-1]) if first["loc"] else None
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ValidationFailed(f"{field}: {message}" if field else message, field=field) from exc
