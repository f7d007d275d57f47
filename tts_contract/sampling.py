"""The sampling settings of one row, as both sides hold them (None: the checkpoint's default)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class SamplingFields:
    temperature: float | None = None
    """0 means greedy decoding."""
    top_k: int | None = None
    top_p: float | None = None
    repetition_penalty: float | None = None
    max_new_tokens: int | None = None
    """Codec frames, 80 ms each."""
    seed: int | None = None
    """Seeds this row's own noise: the same seed, the same audio, whoever shares the batch. None: a
    fresh random seed."""
