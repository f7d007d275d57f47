"""A key/value cache allocated once: every layer, every row slot, every position up to a limit.

One tensor [layers, rows, 2 x kv_heads, positions, head_dim]: a row slot's keys are heads
[0, kv_heads), its values heads [kv_heads, 2 kv_heads), so attention reads plain slices and one
copy moves a row between slots (all layers at once). It never grows: `QWEN_TTS_MAX_POSITIONS`
bounds a row's prefix plus frames. A step attends over a span of positions rounded up to a power
of two (`span_for`), so its shapes take a few values only and do not change every step.
"""

from __future__ import annotations

import torch

ROW_BUCKETS = (1, 2, 4, 8, 16, 32, 64)
"""Batch sizes a step runs at (beyond 64: multiples of 64)."""

MIN_SPAN = 64


def rows_for(active: int, max_rows: int) -> int:
    """The batch size a step of `active` rows runs at: the next bucket (never above max_rows)."""
    bucket = next((b for b in ROW_BUCKETS if b >= active), -(-active // 64) * 64)
    return min(bucket, max_rows)


def span_for(longest: int, positions: int) -> int:
    """Positions a step attends over when its longest row holds `longest` tokens (the new one included)."""
    span = MIN_SPAN
    while span < longest:
        span *= 2
    return min(span, positions)


class StaticCache:
    def __init__(
        self,
        *,
        layers: int,
        rows: int,
        kv_heads: int,
        head_dim: int,
        positions: int,
        dtype: torch.dtype,
        device: torch.device,
    ) -> None:
        self.kv_heads = kv_heads
        self.positions = positions
        self.kv = torch.zeros(layers, rows, 2 * kv_heads, positions, head_dim, dtype=dtype, device=device)

    @property
    def nbytes(self) -> int:
        return self.kv.numel() * self.kv.element_size()

    def move(self, sources: torch.Tensor, targets: torch.Tensor, span: int) -> None:
        """Copy the rows in slots `sources` to slots `targets` (their first `span` positions)."""
        self.kv[:, targets, :, :span] = self.kv[:, sources, :, :span]
