"""Limits both sides enforce: the API answers 422 naming them before a request reaches Triton, and
the engine checks them again (a request can come from any gRPC client)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Range:
    low: float
    high: float

    def __contains__(self, value: float) -> bool:
        return self.low <= value <= self.high


MAX_TEXT_CHARS = 5_000
"""Characters of one row's TEXT (and of INSTRUCT and REF_TEXT). Longer texts are split by the API
into segments, each a row of its own."""

TEMPERATURE = Range(0.0, 2.0)
"""0 means greedy decoding."""
TOP_K = Range(0, 1000)
TOP_P = Range(0.0, 1.0)
REPETITION_PENALTY = Range(0.5, 2.0)
MAX_NEW_TOKENS = Range(2, 4096)
"""Codec frames (80 ms each); qwen-tts generates at least 2. 4096 frames is about 5.5 minutes."""
SEED = Range(0, 2**63 - 1)
REF_SAMPLE_RATE = Range(8_000, 192_000)
