"""The preset speakers and the languages of the Qwen3-TTS models (the same lists the checkpoints
carry): the API validates names against them, the tiny test checkpoints are built with them."""

from __future__ import annotations

SPEAKERS: dict[str, dict[str, str]] = {
    "Vivian": {"gender": "Female", "language": "Chinese", "style": "Bright, slightly edgy young voice"},
    "Serena": {"gender": "Female", "language": "Chinese", "style": "Warm, gentle young voice"},
    "Uncle_Fu": {"gender": "Male", "language": "Chinese", "style": "Seasoned, low and mellow"},
    "Dylan": {"gender": "Male", "language": "Chinese (Beijing dialect)", "style": "Youthful Beijing voice"},
    "Eric": {"gender": "Male", "language": "Chinese (Sichuan dialect)", "style": "Lively Chengdu voice"},
    "Ryan": {"gender": "Male", "language": "English", "style": "Dynamic, strong rhythmic drive"},
    "Aiden": {"gender": "Male", "language": "English", "style": "Sunny American voice"},
    "Ono_Anna": {"gender": "Female", "language": "Japanese", "style": "Playful, nimble"},
    "Sohee": {"gender": "Female", "language": "Korean", "style": "Warm, rich emotion"},
}

# The contract's order (GET /languages: Auto, Spanish, English, Chinese, ...), then the models' own.
LANGUAGES = [
    "Auto",
    "Spanish",
    "English",
    "Chinese",
    "Japanese",
    "Korean",
    "German",
    "French",
    "Russian",
    "Portuguese",
    "Italian",
]
