"""What the real Qwen3-TTS checkpoints are called and how they number their tokens.

A tiny checkpoint keeps all of it (hub folder names, control-token offsets, speakers, languages,
sampling defaults) so that the package's own code treats it exactly like a real one.
"""

from __future__ import annotations

from tts_contract.models import HUB_IDS
from tts_contract.voices import LANGUAGES as CONTRACT_LANGUAGES
from tts_contract.voices import SPEAKERS as CONTRACT_SPEAKERS

VARIANT_DIRS: dict[tuple[str, str], str] = {
    (size, variant.value): hub_id.rsplit("/", 1)[-1] for (size, variant), hub_id in HUB_IDS.items()
}

# Our variant names -> the package's `tts_model_type`; our sizes -> its `tts_model_size`.
MODEL_TYPES = {"custom_voice": "custom_voice", "voice_design": "voice_design", "voice_clone": "base"}
MODEL_SIZES = {"1.7B": "1b7", "0.6B": "0b6"}

# Ids below are the real checkpoints' (codebook 2048); a tiny one shifts them to C + (id - 2048).
REAL_CODEBOOK = 2048
REAL_CONTROL_IDS = {
    "codec_pad_id": 2148,
    "codec_bos_id": 2149,
    "codec_eos_token_id": 2150,
    "codec_think_id": 2154,
    "codec_nothink_id": 2155,
    "codec_think_bos_id": 2156,
    "codec_think_eos_id": 2157,
}
# Lower-case keys, as the package looks them up (`language.lower()`); dialect keys are hidden from
# `get_supported_languages()` and only selected through a dialect speaker.
REAL_LANGUAGE_IDS = {
    "chinese": 2055,
    "english": 2050,
    "german": 2053,
    "italian": 2070,
    "portuguese": 2071,
    "spanish": 2054,
    "japanese": 2058,
    "korean": 2064,
    "french": 2061,
    "russian": 2069,
    "beijing_dialect": 2074,
    "sichuan_dialect": 2062,
}
# The CustomVoice preset speakers: (lower-case key, real codec id, dialect language key or False).
REAL_SPEAKERS: tuple[tuple[str, int, str | bool], ...] = (
    ("serena", 3066, False),
    ("vivian", 3065, False),
    ("uncle_fu", 3010, False),
    ("ryan", 3061, False),
    ("aiden", 2861, False),
    ("ono_anna", 2873, False),
    ("sohee", 2864, False),
    ("eric", 2875, "sichuan_dialect"),
    ("dylan", 2878, "beijing_dialect"),
)
# The real checkpoints' speakers and languages: the contract's lists (Auto is the API's, not a checkpoint's).
SPEAKERS = tuple(CONTRACT_SPEAKERS)
LANGUAGES = tuple(language for language in CONTRACT_LANGUAGES if language != "Auto")


# The real checkpoints' generation_config.json (the wrapper's sampling defaults).
GENERATION_CONFIG = {
    "do_sample": True,
    "repetition_penalty": 1.05,
    "temperature": 0.9,
    "top_p": 1.0,
    "top_k": 50,
    "subtalker_dosample": True,
    "subtalker_temperature": 0.9,
    "subtalker_top_p": 1.0,
    "subtalker_top_k": 50,
    "max_new_tokens": 8192,
}
