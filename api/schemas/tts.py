"""Request and response bodies of the synchronous TTS endpoints (the contract's field names)."""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from api.audio.encode import AudioFormat
from api.catalog import canonical_language, canonical_speaker
from tts_contract import limits


def clean_text(value: str) -> str:
    """Text a model reads, canonical (NFC), or ValueError naming the first character refused.

    Whitespace controls (tab, newline, carriage return, vertical tab, form feed, NEL) are kept: they
    are pauses to the model. Every other control character (C0, DEL, C1: NUL, ESC, BEL, ...) and any
    lone surrogate (pydantic refuses most already) is refused with its code point and its index
    (counted from 0): it is a client bug or bytes smuggled towards logs and the tokenizer, and
    dropping it silently would change what is spoken without telling anyone.
    """
    for index, char in enumerate(value):
        category = unicodedata.category(char)
        if category == "Cc" and not char.isspace():
            raise ValueError(
                f"control character U+{ord(char):04X} at index {index} is not allowed "
                "(tab, newline and other whitespace are)"
            )
        if category == "Cs":
            raise ValueError(f"lone surrogate U+{ord(char):04X} at index {index} is not valid Unicode")
    return unicodedata.normalize("NFC", value)


def has_visible_content(value: str) -> bool:
    """False for text of only whitespace and invisible format characters (zero-width space, joiners,
    byte order mark, soft hyphen: category Cf): nothing there to speak."""
    return any(not char.isspace() and unicodedata.category(char) != "Cf" for char in value)


def _speakable(value: str) -> str:
    value = clean_text(value)
    if not has_visible_content(value):
        raise ValueError("text must not be empty, whitespace or invisible characters only")
    return value


NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=False, min_length=1), AfterValidator(_speakable)]
"""The text to speak: every endpoint that takes one validates it alike. NFC-normalised; empty,
whitespace-only and invisible-only text, control characters and lone surrogates are a 422. Its
length limit is the setting `max_text_chars` (`job_max_text_chars` for jobs), checked by the services
(422 naming the limit); a long text is split into segments (api/services/longform.py)."""
ModelSize = Annotated[str, StringConstraints(pattern=r"^(0\.6B|1\.7B)$")]


def _ref_text_not_blank(value: str) -> str:
    value = clean_text(value)
    if not has_visible_content(value):
        raise ValueError("ref_text must not be empty: it is the transcript of the reference audio")
    return value


RefText = Annotated[
    str, StringConstraints(min_length=1, max_length=limits.MAX_TEXT_CHARS), AfterValidator(_ref_text_not_blank)
]
"""The transcript of a reference clip: every endpoint that takes one validates it alike (as the
text to speak: NFC, no control characters)."""
ModelText = Annotated[str, AfterValidator(clean_text)]
"""Other text a model reads (an instruction, a voice description): no control characters, NFC."""


class GenerationParams(BaseModel):
    """Sampling settings; None keeps the checkpoint's defaults (temperature 0.9, top_k 50, ...)."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(
        default=None, ge=limits.TEMPERATURE.low, le=limits.TEMPERATURE.high, description="0 means greedy decoding"
    )
    top_p: float | None = Field(
        default=None,
        ge=limits.TOP_P.low,
        le=limits.TOP_P.high,
        description="Nucleus sampling (Hugging Face semantics)",
    )
    top_k: int | None = Field(default=None, ge=int(limits.TOP_K.low), le=int(limits.TOP_K.high))
    repetition_penalty: float | None = Field(
        default=None, ge=limits.REPETITION_PENALTY.low, le=limits.REPETITION_PENALTY.high
    )
    max_new_tokens: int | None = Field(
        default=None,
        ge=int(limits.MAX_NEW_TOKENS.low),
        le=int(limits.MAX_NEW_TOKENS.high),
        description="Codec frames, 80 ms each (the model generates at least 2)",
    )


GENERATION_FIELDS = tuple(GenerationParams.model_fields)
"""The sampling settings' names: the same on a request, a stored voice and a synthesis call."""


SEED_MAX = int(limits.SEED.high)
SEED_DESCRIPTION = (
    "Seeds this request's own random stream (0 to 2^63-1; absent: a fresh random seed). The same seed with the "
    "same inputs and the same model weights gives the same audio, whatever else the server is doing. With the "
    "grouped fallback engine (QWEN_TTS_ENGINE=grouped) a seeded request is generated alone (torch.manual_seed, "
    "then its own generate call), so its seed holds there too, but the audio differs from the default engine's."
)
Seed = Annotated[int | None, Field(default=None, ge=0, le=SEED_MAX, strict=True, description=SEED_DESCRIPTION)]
"""A request's `seed`: a JSON integer (strict: no string, float or boolean), in range, or absent."""


def document_seed(schema: Any) -> None:
    """Put the exact integer bounds of every `seed` back into the OpenAPI schema: FastAPI's OpenAPI
    model keeps `maximum` as a float, and 2^63-1 as a float is 2^63, a value the API refuses."""
    if isinstance(schema, dict):
        seed = schema.get("properties", {}).get("seed")
        if isinstance(seed, dict):
            for option in [seed, *seed.get("anyOf", [])]:
                if option.get("type") == "integer":
                    option.update(minimum=0, maximum=SEED_MAX)
        for value in schema.values():
            document_seed(value)
    elif isinstance(schema, list):
        for value in schema:
            document_seed(value)


def _known(value: str, found: str | None, what: str, listing: str) -> str:
    """The catalog's spelling of `value`, or ValueError pointing to the endpoint that lists them."""
    if found is None:
        raise ValueError(f"unknown {what} {value!r}; see GET /api/v1/{listing}")
    return found


def check_language(value: str) -> str:
    return _known(value, canonical_language(value), "language", "languages")


class TTSBase(GenerationParams):
    text: NonEmptyText
    seed: Seed = None
    language: str = "Auto"
    output_format: AudioFormat = AudioFormat.WAV

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        return check_language(value)


class CustomVoiceRequest(TTSBase):
    speaker: str
    instruction: ModelText | None = Field(default=None, max_length=2000)
    model_size: ModelSize | None = None

    @field_validator("speaker")
    @classmethod
    def _known_speaker(cls, value: str) -> str:
        return _known(value, canonical_speaker(value), "speaker", "speakers")


class VoiceDesignRequest(TTSBase):
    language: str = "Spanish"
    voice_description: Annotated[ModelText, StringConstraints(min_length=1, max_length=2000)]
    model_size: ModelSize | None = None

    @field_validator("voice_description")
    @classmethod
    def _description_not_blank(cls, value: str) -> str:
        if not has_visible_content(value):
            raise ValueError("voice_description must not be empty")
        return value


CLONE_LANGUAGE = "Spanish"
"""The contract's default `language` of /tts/clone/upload; /tts/clone/url and the clone jobs agree."""


class VoiceCloneURLRequest(TTSBase):
    language: str = CLONE_LANGUAGE
    ref_audio_url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    ref_text: RefText
    model_size: ModelSize | None = None


class SegmentView(BaseModel):
    """One segment of a long text: where it is in the text, how long its audio is, which model spoke it."""

    index: int
    start: int = Field(description="Offset of its first character in the (NFC-normalised) text")
    end: int = Field(description="Offset just past its last character")
    duration_seconds: float
    model: str = Field(description="The Triton model that generated it")


class TTSResponse(BaseModel):
    success: bool = True
    audio_base64: str
    sample_rate: int
    duration_seconds: float
    model_used: str
    processing_time_seconds: float
    output_format: AudioFormat
    error: str | None = None
    segments: list[SegmentView] | None = Field(
        default=None,
        description="A text longer than one segment was split: its segments in order (the audio is each of "
        "them, joined with a pause of QWEN_TTS_SEGMENT_PAUSE_SECONDS between two). Absent for one segment.",
    )


class ErrorResponse(BaseModel):
    success: bool = False
    error: str
    error_type: str
    field: str | None = None
