"""The talker's and code predictor's decoder layer as a short, fixed sequence of tensor ops.

The package's layer (HF style) costs about 57-65 aten ops per token step (one kernel launch each
on a GPU), a third of them dtype casts and RMSNorm pieces. Here, with the weights of
`weights.prepare_stack`, a decode step of one layer is 19 ops (18 in the code predictor):

- RMSNorm of the residual stream as `h / |h|` over its padded row (2 ops, see `weights`), of
  the heads as `x / hypot(|x|, sqrt(hd * eps))` (3 ops); the weights and sqrt(width) live in the
  next matrix: the same value as `x * weight * rsqrt(mean(x^2) + eps)`;
- one matmul for q, k and v, one for gate and up; the residual adds fused into `addmm`;
- RoPE as `x * cos + flip_halves(x) * signed_sin` (3 ops), on q, k and (as identity) v, so
  that keys and values leave it side by side: one cache write;
- grouped-query attention without copying K and V: with one query per row, the `Hq / Hk` query
  heads that share a key head become that key head's queries (`q.view(B, Hk, Hq/Hk, hd)`), so one
  SDPA call reads each cached K and V once (Hugging Face's path with a mask copies them with
  `repeat_kv` in every layer).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from tts_engine.step.weights import Layer, Stack

Store = Callable[[torch.Tensor, torch.Tensor], None]
"""Writes a step's keys and values [B, T, Hk, hd] into the cache."""


def normalize(x: torch.Tensor, floor: torch.Tensor) -> torch.Tensor:
    """RMSNorm without its weight and without sqrt(width) (both folded into the next matrix)."""
    return x / torch.hypot(torch.linalg.vector_norm(x, dim=-1, keepdim=True), floor)


def unit(h: torch.Tensor, width: int) -> torch.Tensor:
    """RMSNorm of a padded residual stream h [N, width + pad] (weight and sqrt(width) folded
    into the next matrix): [N, width]."""
    return (h / torch.linalg.vector_norm(h, dim=-1, keepdim=True))[:, :width]


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """RoPE on [..., hd] with `sin` carrying rotate_half's sign."""
    half = x.shape[-1] // 2
    flipped = x.unflatten(-1, (2, half)).flip(-2).flatten(-2)
    return torch.addcmul(x * cos, flipped, sin)


def attention_inputs(
    h: torch.Tensor,
    layer: Layer,
    stack: Stack,
    rope: tuple[torch.Tensor, torch.Tensor],
    tokens: int,
    qk_weight: bool,
) -> tuple[torch.Tensor, torch.Tensor]:
    """q [B, T, Hq, hd] and the keys and values side by side [B, T, 2 Hk, hd] (one cache write)
    from the residual stream h [B * T, D + pad].

    Every head goes through the q/k norm and RoPE: v heads have a floor of 2**40 (their norm
    divides them by exactly 2**40) and rotary tables cos = 2**40, sin = 0 (which multiply it back),
    so they come out bit for bit as they went in, next to the keys. `rope` is (cos, sin)
    broadcastable to [B, T, H, hd] over all H = Hq + 2 Hk heads; with `qk_weight` False the q/k-norm
    weights are already in it (the code predictor's positions are fixed: its tables are per layer).
    """
    qkv = (unit(h, stack.hidden) @ layer.qkv.t()).view(-1, tokens, stack.all_heads, stack.head_dim)
    heads = normalize(qkv, stack.head_floors)
    if qk_weight:
        heads = heads * layer.qk_norm
    heads = rotate(heads, *rope)
    return heads[:, :, : stack.heads], heads[:, :, stack.heads :]


def finish_layer(h: torch.Tensor, attended: torch.Tensor, layer: Layer, width: int) -> torch.Tensor:
    """Output projection and MLP, residuals added in place (the padding columns are never
    written): h [B * T, width + pad], attended [B * T, Hq * hd]."""
    h[:, :width].addmm_(attended, layer.o)
    gate, up = (unit(h, width) @ layer.gate_up.t()).chunk(2, dim=-1)
    h[:, :width].addmm_(F.silu(gate) * up, layer.down)
    return h


def decode_attention(
    q: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, mask: torch.Tensor | None
) -> torch.Tensor:
    """One query per row: q [B, 1, Hq, hd] against keys, values [B, Hk, S, hd]; [B, Hq * hd]."""
    rows, _, heads, dim = q.shape
    kv_heads = keys.shape[1]
    out = F.scaled_dot_product_attention(q.view(rows, kv_heads, heads // kv_heads, dim), keys, values, attn_mask=mask)
    return out.reshape(rows, heads * dim)


def prefill_attention(q: torch.Tensor, kv: torch.Tensor) -> torch.Tensor:
    """Causal attention of T new tokens among themselves (a fresh row: nothing cached before them).
    Rows are right-padded: a real token never sees the padding after it. q [B, T, Hq, hd], kv
    [B, T, 2 Hk, hd]; [B * T, Hq * hd]."""
    rows, tokens, heads, dim = q.shape
    keys, values = kv.transpose(1, 2).chunk(2, dim=1)
    out = F.scaled_dot_product_attention(q.transpose(1, 2), keys, values, is_causal=True, enable_gqa=True)
    return out.transpose(1, 2).reshape(rows * tokens, heads * dim)
