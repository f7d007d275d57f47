"""Stateless random numbers for sampling: a hash of (row key, frame, codebook, candidate rank).

A row's noise for one draw is a pure function of its seed and where the draw is, never of a
generator's state, its batch slot, who shares the batch or how the call is shaped: so it needs no
per-row generator, costs a fixed number of tensor ops whatever the batch, and can be captured in a
CUDA graph. Everything is integer arithmetic on int64 tensors holding 32-bit values, with
multipliers below 2**31 (a product stays below 2**63: no overflow, so no device-dependent
wrap-around): the bits are identical on the CPU and on a GPU. Only the final `log` is floating
point (one ulp may differ between devices' math libraries).
"""

from __future__ import annotations

import torch

MASK32 = 0xFFFFFFFF
# Odd multipliers below 2**31 (see above); the shifts are those of the "lowbias32" finaliser.
_M1 = 0x7FEB352D
_M2 = 0x5BD1E995
_UNIFORM_SCALE = 2.0**-24


def mix32(x: torch.Tensor) -> torch.Tensor:
    """A bijective 32-bit finaliser (xor-shift-multiply), elementwise on int64 values in [0, 2**32)."""
    x = x ^ (x >> 16)
    x = (x * _M1) & MASK32
    x = x ^ (x >> 15)
    x = (x * _M2) & MASK32
    return x ^ (x >> 16)


def _mix32_int(x: int) -> int:
    x ^= x >> 16
    x = (x * _M1) & MASK32
    x ^= x >> 15
    x = (x * _M2) & MASK32
    return x ^ (x >> 16)


def row_key(seed: int) -> tuple[int, int]:
    """A row's two 32-bit key words from its 63-bit seed (plain Python: computed once at admission)."""
    low, high = seed & MASK32, (seed >> 32) & MASK32
    return _mix32_int(low ^ 0x9E3779B9), _mix32_int(high ^ 0x85EBCA6B)


def draw_keys(keys: torch.Tensor, counters: torch.Tensor) -> torch.Tensor:
    """One 32-bit key per draw [B, n] from row keys [B, 2] and the draws' counters [B, n]: draw d
    of frame f is counter f * G + d (G codebooks; d = 0 the talker's codebook-0 token, d >= 1 the
    code predictor's codebook d), so every draw of a row has its own key."""
    return mix32(mix32((counters & MASK32) ^ keys[:, :1]) ^ keys[:, 1:])


def log_uniform(keys: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """log(u) for u ~ U(0, 1), one per (draw key, index), broadcast: keys [B, 1] and indices [W]
    give [B, W], keys [B, n, 1] give [B, n, W] (float32 < 0).

    u = (24 hashed bits + 0.5) / 2**24 lies strictly inside (0, 1), so log(u) is finite and negative.
    The key is already fully mixed and the indices differ in their low bits, which the first
    multiply carries upwards: `mix32` without its first xor-shift.
    """
    # in place on the draw's own temporaries: the same ops without an allocation each
    x = (keys ^ index).mul_(_M1).bitwise_and_(MASK32)
    x = x.bitwise_xor_(x >> 15).mul_(_M2).bitwise_and_(MASK32)
    bits = x.bitwise_xor_(x >> 16).bitwise_right_shift_(8)
    return bits.to(torch.float32).add_(0.5).mul_(_UNIFORM_SCALE).log_()
