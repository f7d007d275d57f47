"""The Qwen3-TTS models this deployment serves, and their Triton names."""

from __future__ import annotations

from enum import StrEnum


class Variant(StrEnum):
    CUSTOM_VOICE = "custom_voice"
    VOICE_DESIGN = "voice_design"
    VOICE_CLONE = "voice_clone"


SIZES = ("0.6B", "1.7B")

# The upstream checkpoints (the ids the contract's GET /models lists). 0.6B has no VoiceDesign.
HUB_IDS: dict[tuple[str, Variant], str] = {
    ("1.7B", Variant.CUSTOM_VOICE): "Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice",
    ("1.7B", Variant.VOICE_DESIGN): "Qwen/Qwen3-TTS-12Hz-1.7B-VoiceDesign",
    ("1.7B", Variant.VOICE_CLONE): "Qwen/Qwen3-TTS-12Hz-1.7B-Base",
    ("0.6B", Variant.CUSTOM_VOICE): "Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice",
    ("0.6B", Variant.VOICE_CLONE): "Qwen/Qwen3-TTS-12Hz-0.6B-Base",
}

INFO_MODEL = "engine_info"
"""The model that reports the GPU and each TTS model's weights source to the API."""

SAMPLE_RATE = 24_000
"""Every Qwen3-TTS model speaks 24 kHz mono."""


def triton_model_name(size: str, variant: Variant | str) -> str:
    """`custom_voice_1_7b`: the Triton model name of one variant and size."""
    return f"{Variant(variant).value}_{size.lower().replace('.', '_')}"


def tts_model_names() -> list[str]:
    """Every TTS model's Triton name, in catalogue order."""
    return [triton_model_name(size, variant) for size, variant in HUB_IDS]
