"""Tiny random checkpoints of the real Qwen3-TTS architecture, and their text tokenizer.

For tests and offline runs only (`scripts/make_tiny_checkpoints.py` writes them): they load and run
through the real qwen-tts code and speak noise. No serving code imports this package, and no image
carries it. Parts: `ids` (the real checkpoints' names and token ids), `configs` (their config files
at tiny sizes), `weights` (seeded random weights), `tokenizer`, and `checkpoint` (the writer).
"""

from tiny_checkpoints.checkpoint import (
    GENERATOR_VERSION,
    MARKER_FILE,
    checkpoint_is_current,
    read_marker,
    write_all,
    write_tiny_checkpoint,
)
from tiny_checkpoints.ids import LANGUAGES, SPEAKERS, VARIANT_DIRS

__all__ = [
    "GENERATOR_VERSION",
    "LANGUAGES",
    "MARKER_FILE",
    "SPEAKERS",
    "VARIANT_DIRS",
    "checkpoint_is_current",
    "read_marker",
    "write_all",
    "write_tiny_checkpoint",
]
