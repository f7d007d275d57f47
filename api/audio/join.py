"""Segments of speech joined into one track: each faded out and in at its edges, a pause between.

The fades (a few milliseconds, raised-cosine) take the click out of a cut that may fall mid-waveform;
they change no length, so the joined track lasts exactly the sum of its segments plus the pauses.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def faded(samples: np.ndarray, fade: int) -> np.ndarray:
    """A copy of `samples` (float32, flat) faded in and out over `fade` samples at its edges."""
    out = np.array(samples, dtype=np.float32, copy=True).reshape(-1)
    n = min(fade, out.size // 2)
    if n > 0:
        ramp = (0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, n, dtype=np.float32))).astype(np.float32)
        out[:n] *= ramp
        out[-n:] *= ramp[::-1]
    return out


def join_segments(
    segments: Sequence[np.ndarray], rate: int, *, pause_seconds: float, fade_seconds: float
) -> np.ndarray:
    """One float32 track: the segments in order, `pause_seconds` of silence between two."""
    if not segments:
        return np.zeros(0, np.float32)
    if len(segments) == 1:
        return np.asarray(segments[0], dtype=np.float32).reshape(-1)
    fade = round(fade_seconds * rate)
    silence = np.zeros(round(pause_seconds * rate), np.float32)
    parts: list[np.ndarray] = []
    for index, segment in enumerate(segments):
        if index:
            parts.append(silence)
        parts.append(faded(segment, fade))
    return np.concatenate(parts)


def joined_length(lengths: Sequence[int], rate: int, *, pause_seconds: float) -> int:
    """Samples of the joined track of segments of these lengths."""
    return sum(lengths) + max(0, len(lengths) - 1) * round(pause_seconds * rate)
