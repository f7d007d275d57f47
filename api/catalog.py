"""The preset speakers and languages of the Qwen3-TTS CustomVoice models, and model naming.

The API validates against this catalog so a bad name is a clear 422 before any inference; the
Triton model validates again against the loaded checkpoint (whose lists are the same).
"""

from __future__ import annotations

from tts_contract.models import HUB_IDS, SIZES, Variant, triton_model_name
from tts_contract.voices import LANGUAGES as LANGUAGE_CHOICES
from tts_contract.voices import SPEAKERS

LANGUAGES = [name for name in LANGUAGE_CHOICES if name != "Auto"]
"""The models' languages in the contract's order (GET /models); LANGUAGE_CHOICES adds `Auto` first."""
LANGUAGE_NOTES = "Use 'Auto' para detección automática del idioma"

_SPEAKERS_BY_KEY = {name.lower(): name for name in SPEAKERS}
_LANGUAGES_BY_KEY = {name.lower(): name for name in LANGUAGE_CHOICES}


def canonical_speaker(name: str) -> str | None:
    return _SPEAKERS_BY_KEY.get(name.strip().lower())


def canonical_language(name: str) -> str | None:
    return _LANGUAGES_BY_KEY.get(name.strip().lower())


def model_label(size: str, variant: Variant) -> str:
    """The contract's `model_used`: `1.7B_custom_voice`."""
    return f"{size}_{variant.value}"


def available_models() -> dict[str, dict[str, str]]:
    """size -> variant -> hub id, as the contract's GET /models shows."""
    out: dict[str, dict[str, str]] = {size: {} for size in SIZES}
    for (size, variant), hub_id in HUB_IDS.items():
        out[size][variant.value] = hub_id
    return {size: models for size, models in sorted(out.items(), reverse=True)}


__all__ = ["HUB_IDS", "LANGUAGES", "SIZES", "SPEAKERS", "Variant", "triton_model_name"]
