"""What a step runner drives: a batch of rows that join, advance one frame per step, and leave.

Two implementations: `CounterBatch` (the default: counter-based sampling, static shapes, one
device-to-host read per step) and `ReferenceBatch` (the package-exact sampler: per-row torch
generators, the package's own modules; a row's codes equal the package's `generate_*` on the CPU).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeVar

from tts_engine.step.prefix import Prefix
from tts_engine.step.sampling import RowSampling

SAMPLERS = ("counter", "reference")


@dataclass(frozen=True)
class RowStart:
    serial: int
    prefix: Prefix
    talker: RowSampling
    predictor: RowSampling
    seed: int
    max_frames: int
    """Frames the row may make at most (its trailing text beyond that is never read)."""


class Batch(Protocol):
    groups: int
    eos: int

    def room(self, prefix_tokens: int) -> int:
        """Frames a row with a prefix this long can make at most here (0: it does not fit)."""
        ...

    def admit(self, rows: list[RowStart]) -> None:
        """Start `rows` (prefilled together) in the slots after the occupied ones."""
        ...

    def step(self) -> list[list[int]]:
        """One frame for every row, in slot order: its G codes, then its next codebook-0 token."""
        ...

    def remove(self, slots: list[int]) -> None:
        """Free `slots`, compacting as `compact` does."""
        ...

    def reset(self) -> None:
        """Drop every row (after a failed step)."""
        ...

    def close(self) -> None: ...


T = TypeVar("T")


def compact(items: list[T], slots: list[int]) -> list[tuple[int, int]]:
    """Remove `slots` from `items`, highest first, each hole filled by the last item; the
    (source, target) moves made, in order. Every holder of per-slot data applies the same rule."""
    moves = []
    for slot in sorted(slots, reverse=True):
        last = len(items) - 1
        if slot != last:
            items[slot] = items[last]
            moves.append((last, slot))
        items.pop()
    return moves
