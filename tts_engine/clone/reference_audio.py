"""Reference audio for voice cloning: mono float32 at the rate the model expects.

Resampling here (soxr) instead of inside qwen-tts avoids librosa's numba compilation (15-22 s on
the first call in a fresh process) landing in a user's request. Used per request today and,
later, once per stored voice when its clone prompt is built.
"""

from __future__ import annotations

import numpy as np
import soxr

MODEL_SAMPLE_RATE = 24_000
MIN_SECONDS = 0.5
MAX_SECONDS = 60.0


class ReferenceAudioError(ValueError):
    """The reference clip cannot be used (too short, too long, silent)."""


def prepare_reference(samples: np.ndarray, sample_rate: int, target_rate: int = MODEL_SAMPLE_RATE) -> np.ndarray:
    """Downmix, check length, resample to `target_rate`, return float32 mono."""
    audio = np.asarray(samples, dtype=np.float32)
    if audio.ndim == 2:
        audio = audio.mean(axis=1 if audio.shape[1] <= 8 else 0)
    audio = audio.reshape(-1)
    seconds = audio.size / float(sample_rate)
    if seconds < MIN_SECONDS:
        raise ReferenceAudioError(f"reference audio is {seconds:.2f} s long; at least {MIN_SECONDS} s is needed")
    if seconds > MAX_SECONDS:
        raise ReferenceAudioError(f"reference audio is {seconds:.1f} s long; at most {MAX_SECONDS:.0f} s is accepted")
    if not np.any(np.abs(audio) > 1e-6):
        raise ReferenceAudioError("reference audio is silent")
    if sample_rate != target_rate:
        audio = soxr.resample(audio, sample_rate, target_rate, quality="HQ")
    return np.ascontiguousarray(audio, dtype=np.float32)
