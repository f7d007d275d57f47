"""Per-row sampling for a batch of logits: every row its own settings and its own random stream.

Reproduces, row for row, what Hugging Face `generate` does for one sequence with scalar settings
(transformers 4.57: repetition penalty, min-new-tokens and suppressed tokens, then temperature,
top-k, top-p, softmax, one `torch.multinomial` draw; greedy rows take the argmax before the
warpers), so a row sampled here draws the same token as the package's `generate` would with the
same seed. Vectorised over the batch; only the draw is per row, from the row's own generator, so
that a row's tokens never depend on who shares its batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class RowSampling:
    do_sample: bool
    temperature: float
    top_k: int
    top_p: float
    repetition_penalty: float = 1.0


def _column(values: Sequence[float], like: torch.Tensor) -> torch.Tensor:
    # Python floats become the logits' dtype exactly as HF's scalar arithmetic casts them.
    return torch.tensor(values, dtype=like.dtype, device=like.device).unsqueeze(1)


def apply_repetition_penalty(scores: torch.Tensor, seen: torch.Tensor, penalties: Sequence[float]) -> torch.Tensor:
    """HF RepetitionPenaltyLogitsProcessor per row: `seen` [B, V] marks tokens already generated."""
    if all(p == 1.0 for p in penalties):
        return scores
    penalty = _column(penalties, scores)
    penalised = torch.where(scores < 0, scores * penalty, scores / penalty)
    active = seen & (penalty != 1.0)
    return torch.where(active, penalised, scores)


def _warp(scores: torch.Tensor, rows: Sequence[RowSampling]) -> torch.Tensor:
    """HF's TemperatureLogitsWarper, TopKLogitsWarper and TopPLogitsWarper, each row its own values."""
    if all(row == rows[0] for row in rows):
        return _warp_uniform(scores, rows[0])
    temperatures = [r.temperature for r in rows]
    if any(t != 1.0 for t in temperatures):
        divide = _column(temperatures, scores)
        scores = torch.where(divide != 1.0, scores / divide, scores)
    vocab = scores.shape[-1]
    ks = [min(max(r.top_k, 1), vocab) if r.top_k else 0 for r in rows]
    if any(ks):
        largest = torch.topk(scores, max(ks), dim=-1).values
        index = torch.tensor([max(k, 1) - 1 for k in ks], device=scores.device).unsqueeze(1)
        threshold = largest.gather(1, index)
        remove = (scores < threshold) & torch.tensor([k > 0 for k in ks], device=scores.device).unsqueeze(1)
        scores = scores.masked_fill(remove, -float("inf"))
    if any(r.top_p < 1.0 for r in rows):
        limit = _column([1 - r.top_p if r.top_p < 1.0 else -1.0 for r in rows], scores)
        scores = _top_p(scores, limit)
    return scores


def _warp_uniform(scores: torch.Tensor, row: RowSampling) -> torch.Tensor:
    """Every row with the same settings (the common case): HF's scalar arithmetic as is."""
    if row.temperature != 1.0:
        scores = scores / row.temperature
    if row.top_k:
        k = min(max(row.top_k, 1), scores.shape[-1])
        scores = scores.masked_fill(scores < torch.topk(scores, k)[0][..., -1, None], -float("inf"))
    if row.top_p < 1.0:
        scores = _top_p(scores, 1 - row.top_p)
    return scores


def _top_p(scores: torch.Tensor, limit: torch.Tensor | float) -> torch.Tensor:
    sorted_logits, sorted_indices = torch.sort(scores, descending=False)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    sorted_remove = cumulative <= limit
    sorted_remove[..., -1:] = False
    remove = sorted_remove.scatter(1, sorted_indices, sorted_remove)
    return scores.masked_fill(remove, -float("inf"))


def sample(scores: torch.Tensor, rows: Sequence[RowSampling], noise: torch.Tensor) -> torch.Tensor:
    """One token per row ([B] long) from processed scores: argmax for greedy rows, else a draw.

    The draw is `torch.multinomial(probs, 1)`'s own algorithm for one sample (ATen's fast path:
    the argmax of probs divided by Exp(1) noise) with `noise` [B, V] drawn from each row's own
    generator (`step_noise`): the same token and the same generator state as a per-row
    `multinomial` call (checked against `multinomial` in the tests). Greedy rows ignore theirs.
    """
    sampling = [i for i, row in enumerate(rows) if row.do_sample]
    if not sampling:
        return torch.argmax(scores, dim=-1)
    everyone = len(sampling) == len(rows)
    warped = _warp(scores, rows) if everyone else _warp(scores[sampling], [rows[i] for i in sampling])
    probs = torch.nn.functional.softmax(warped, dim=-1)
    drawn = torch.argmax(probs / (noise if everyone else noise[sampling]), dim=-1)
    if everyone:
        return drawn
    tokens = torch.argmax(scores, dim=-1)
    tokens[torch.tensor(sampling, device=scores.device)] = drawn
    return tokens
