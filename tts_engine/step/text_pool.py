"""Every running row's trailing text embeddings in one device tensor, read by index in the step.

A row adds its text's embeddings one per frame (the package's two-track input), then the pad
embedding. The rows' texts live in one pool [capacity, D] (row 0 holds the pad embedding), each
row a contiguous span: the step gathers `pool[start + frame]` or `pool[0]` in one lookup, with
no per-row tensor and no host data. Spans are appended; when the pool is full the live spans are
packed to the front (between steps: the rows' starts change, `packed` counts it) and, if still
short, the pool grows (a new tensor: a captured step would have to be captured again).
"""

from __future__ import annotations

import torch

from tts_engine.step.weights import padded

TEXT_TOKENS_PER_ROW = 256
"""Pool rows allocated per batch row at first (a sentence is tens of tokens)."""


class TextPool:
    def __init__(self, *, rows: int, hidden: int, column: float, dtype: torch.dtype, device: torch.device) -> None:
        """Rows of `hidden` values plus the talker's residual padding (`weights.padded`: `column`
        first): a text embedding starts the frame's residual stream."""
        self._hidden = hidden
        self.pool = padded(torch.zeros(1 + rows * TEXT_TOKENS_PER_ROW, hidden, dtype=dtype, device=device), column)
        self.packed = 0
        self._top = 1
        self._spans: dict[int, tuple[int, int]] = {}
        """owner -> (start, count) of each live span."""

    def set_pad(self, pad: torch.Tensor) -> None:
        self.pool[0, : self._hidden] = pad

    def add(self, owner: int, text: torch.Tensor) -> int:
        """Store `text` [T, D] for `owner`; returns where it starts."""
        count = int(text.shape[0])
        if self._top + count > self.pool.shape[0]:
            self._pack(count)
        start = self._top
        self.pool[start : start + count, : self._hidden] = text
        self._spans[owner] = (start, count)
        self._top += count
        return start

    def remove(self, owner: int) -> None:
        self._spans.pop(owner, None)

    def start_of(self, owner: int) -> int:
        return self._spans[owner][0]

    def _pack(self, needed: int) -> None:
        spans = sorted(self._spans.items(), key=lambda item: item[1][0])
        index = [0] + [position for _, (start, count) in spans for position in range(start, start + count)]
        kept = self.pool[torch.tensor(index, device=self.pool.device)]  # a copy: the spans may overlap their targets
        capacity = self.pool.shape[0]
        while len(index) + needed > capacity:
            capacity *= 2
        if capacity > self.pool.shape[0]:
            self.pool = self.pool[:1].expand(capacity, -1).clone()
        self.pool[: len(index)] = kept
        top = 1
        for owner, (_, count) in spans:
            self._spans[owner] = (top, count)
            top += count
        self._top = top
        self.packed += 1
