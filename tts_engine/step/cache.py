"""A key/value cache for rows of different lengths that join and leave a running batch.

One buffer per layer, [rows, kv_heads, capacity, head_dim]. Row i of the running batch owns slot
i: the batch stays compact (a finishing row's slot is filled by moving the last row into it), so
the attention reads a plain slice `[:B, :, :longest]` with no gather. Each row writes its new
key/value at its own length; a mask hides the unused tail of shorter rows. The attention modules
of the package call `update()` exactly as they call a Hugging Face cache.
"""

from __future__ import annotations

from typing import Any

import torch

INITIAL_CACHE_TOKENS = 256
"""Positions per row allocated at first; doubled whenever a row needs more."""


class SlotCache:
    def __init__(self, *, layers: int, rows: int, kv_heads: int, head_dim: int, dtype: torch.dtype, device: Any):
        self._shape = (rows, kv_heads, 0, head_dim)
        self._dtype, self._device = dtype, device
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []
        self.layers = layers
        self.lengths: list[int] = []
        """Tokens held by each active row, in slot order."""
        self._capacity = 0
        self._write: torch.Tensor | None = None
        self._grow(INITIAL_CACHE_TOKENS)

    @property
    def capacity(self) -> int:
        """Positions per row held in memory: layers x 2 x rows x kv_heads x head_dim x this values."""
        return self._capacity

    @property
    def active(self) -> int:
        return len(self.lengths)

    def _grow(self, needed: int) -> None:
        capacity = max(needed, self._capacity * 2)
        rows, heads, _, dim = self._shape
        for store in (self.keys, self.values):
            fresh = [
                torch.zeros(rows, heads, capacity, dim, dtype=self._dtype, device=self._device)
                for _ in range(self.layers)
            ]
            for layer, old in enumerate(store):
                fresh[layer][:, :, : self._capacity] = old
            store[:] = fresh
        self._capacity = capacity

    def add(self, prefix: Any) -> int:
        """Append a row whose prefill ran in a Hugging Face DynamicCache (batch of one); its slot."""
        slot = len(self.lengths)
        length = int(prefix.layers[0].keys.shape[2])
        if length > self._capacity:
            self._grow(length)
        for layer in range(self.layers):
            self.keys[layer][slot, :, :length] = prefix.layers[layer].keys[0]
            self.values[layer][slot, :, :length] = prefix.layers[layer].values[0]
        self.lengths.append(length)
        return slot

    def remove(self, slot: int) -> int | None:
        """Free `slot`; the last row moves into it. Returns the slot that moved (now `slot`), if any."""
        last = len(self.lengths) - 1
        moved = None
        if slot != last:
            length = self.lengths[last]
            for store in (self.keys, self.values):
                for buffer in store:
                    buffer[slot, :, :length] = buffer[last, :, :length]
            self.lengths[slot] = length
            moved = last
        self.lengths.pop()
        return moved

    def begin_step(self) -> torch.Tensor | None:
        """Prepare one decoding step (one new token per row); the attention mask, None if not needed."""
        longest = max(self.lengths) + 1
        if longest > self._capacity:
            self._grow(longest)
        self._write = torch.tensor(self.lengths, device=self._device)
        self._longest = longest
        if all(length == self.lengths[0] for length in self.lengths):
            return None  # equal lengths: nothing to hide, exactly the package's unmasked decode step
        span = torch.arange(longest, device=self._device).unsqueeze(0)
        return (span <= self._write.unsqueeze(1))[:, None, None, :]

    def end_step(self) -> None:
        self.lengths = [length + 1 for length in self.lengths]

    def positions(self) -> torch.Tensor:
        """Each row's position for the step's token: its own length (rows are never left-padded)."""
        return torch.tensor(self.lengths, device=self._device).view(1, -1, 1).expand(3, -1, -1)

    def update(
        self, key: torch.Tensor, value: torch.Tensor, layer_idx: int, cache_kwargs: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Called by each attention layer with the step's [B, heads, 1, dim] key and value."""
        rows = key.shape[0]
        index = torch.arange(rows, device=key.device)
        assert self._write is not None
        self.keys[layer_idx][index, :, self._write] = key[:, :, 0]
        self.values[layer_idx][index, :, self._write] = value[:, :, 0]
        return self.keys[layer_idx][:rows, :, : self._longest], self.values[layer_idx][:rows, :, : self._longest]
