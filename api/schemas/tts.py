"""Request and response bodies of the synchronous TTS endpoints (the contract's field names)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from api.audio.encode import AudioFormat
from api.catalog import canonical_language, canonical_speaker


def _text_not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("text must not be empty or whitespace")
    return value


NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1), AfterValidator(_text_not_blank)]
"""The text to speak: every endpoint that takes one validates it alike."""
ModelSize = Annotated[str, StringConstraints(pattern=r"^(0\.6B|1\.7B)$")]


def _ref_text_not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("ref_text must not be empty: it is the transcript of the reference audio")
    return value


RefText = Annotated[str, StringConstraints(min_length=1, max_length=5000), AfterValidator(_ref_text_not_blank)]
"""The transcript of a reference clip: every endpoint that takes one validates it alike."""


class GenerationParams(BaseModel):
    """Sampling settings; None keeps the checkpoint's defaults (temperature 0.9, top_k 50, ...)."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(default=None, ge=0.0, le=2.0, description="0 means greedy decoding")
    top_p: float | None = Field(default=None, ge=0.0, le=1.0, description="Nucleus sampling (Hugging Face semantics)")
    top_k: int | None = Field(default=None, ge=0, le=1000)
    repetition_penalty: float | None = Field(default=None, ge=0.5, le=2.0)
    max_new_tokens: int | None = Field(
        default=None, ge=2, le=4096, description="Codec frames, 80 ms each (the model generates at least 2)"
    )


class TTSBase(GenerationParams):
    text: NonEmptyText
    language: str = "Auto"
    output_format: AudioFormat = AudioFormat.WAV

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        found = canonical_language(value)
        if found is None:
            raise ValueError(f"unknown language {value!r}; see GET /api/v1/languages")
        return found


class CustomVoiceRequest(TTSBase):
    speaker: str
    instruction: str | None = Field(default=None, max_length=2000)
    model_size: ModelSize | None = None

    @field_validator("speaker")
    @classmethod
    def _known_speaker(cls, value: str) -> str:
        found = canonical_speaker(value)
        if found is None:
            raise ValueError(f"unknown speaker {value!r}; see GET /api/v1/speakers")
        return found


class VoiceDesignRequest(TTSBase):
    language: str = "Spanish"
    voice_description: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    model_size: ModelSize | None = None

    @field_validator("voice_description")
    @classmethod
    def _description_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("voice_description must not be empty")
        return value


class VoiceCloneURLRequest(TTSBase):
    ref_audio_url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    ref_text: RefText
    model_size: ModelSize | None = None


class TTSResponse(BaseModel):
    success: bool = True
    audio_base64: str
    sample_rate: int
    duration_seconds: float
    model_used: str
    processing_time_seconds: float
    output_format: AudioFormat
    error: str | None = None


class ErrorResponse(BaseModel):
    success: bool = False
    error: str
    error_type: str
    field: str | None = None
