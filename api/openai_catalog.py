"""OpenAI's names for this deployment's models and voices (pure: no I/O).

`model`: a Triton model name (`custom_voice_1_7b`) or its hub id (`Qwen/Qwen3-TTS-12Hz-1.7B-Base`)
fixes the variant and size; OpenAI's model names are aliases that fix at most the size, the variant
then following from `task_type`, the voice or the reference audio.

`voice`: OpenAI's built-in voice names map to preset speakers (the table below, in the README).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from api.catalog import HUB_IDS, SPEAKERS, Variant, canonical_speaker, triton_model_name


class TaskType(StrEnum):
    """The Qwen extension `task_type`: which of the three model variants speaks."""

    CUSTOM_VOICE = "CustomVoice"
    VOICE_DESIGN = "VoiceDesign"
    BASE = "Base"

    @property
    def variant(self) -> Variant:
        return _VARIANTS[self]


_VARIANTS = {
    TaskType.CUSTOM_VOICE: Variant.CUSTOM_VOICE,
    TaskType.VOICE_DESIGN: Variant.VOICE_DESIGN,
    TaskType.BASE: Variant.VOICE_CLONE,
}
TASK_OF_VARIANT = {variant: task for task, variant in _VARIANTS.items()}


@dataclass(frozen=True)
class ModelChoice:
    """What a `model` name fixes: a variant and a size, or only a size (None: the server's default)."""

    variant: Variant | None
    size: str | None


MODEL_ALIASES: dict[str, ModelChoice] = {
    "tts-1": ModelChoice(None, None),  # the server's default size (QWEN_TTS_DEFAULT_MODEL_SIZE)
    "tts-1-hd": ModelChoice(None, "1.7B"),
    "gpt-4o-mini-tts": ModelChoice(None, "1.7B"),  # the instruction-following one: 1.7B
}

OPENAI_VOICES: dict[str, str] = {
    "alloy": "Ryan",
    "ash": "Aiden",
    "ballad": "Eric",
    "cedar": "Dylan",
    "coral": "Sohee",
    "echo": "Aiden",
    "fable": "Dylan",
    "marin": "Serena",
    "nova": "Vivian",
    "onyx": "Uncle_Fu",
    "sage": "Ono_Anna",
    "shimmer": "Serena",
    "verse": "Ryan",
}
"""OpenAI's built-in voice -> preset speaker. English-speaking presets (Ryan, Aiden) for the voices
OpenAI's examples use most (alloy, echo); otherwise by gender and character. Every preset speaks
every language; its native one sounds most natural."""

_MODELS: dict[str, ModelChoice] = {
    **{triton_model_name(size, variant): ModelChoice(variant, size) for size, variant in HUB_IDS},
    **{hub_id.lower(): ModelChoice(variant, size) for (size, variant), hub_id in HUB_IDS.items()},
    **MODEL_ALIASES,
}


def model_ids() -> list[str]:
    """What GET /v1/models lists: the Triton model names, then the aliases."""
    return sorted(triton_model_name(size, variant) for size, variant in HUB_IDS) + list(MODEL_ALIASES)


def model_choice(name: str) -> ModelChoice | None:
    return _MODELS.get(name.strip().lower())


def preset_voice(name: str) -> str | None:
    """The preset speaker a voice name means (a preset itself, any case, or an OpenAI voice)."""
    return canonical_speaker(name) or OPENAI_VOICES.get(name.strip().lower())


__all__ = ["SPEAKERS", "ModelChoice", "TaskType", "model_choice", "model_ids", "preset_voice"]
