"""Batched sampling with stateless noise: every row its own settings, held as tensors.

The same warpers as Hugging Face `generate` (temperature, top-k, top-p; repetition penalty and
the talker's token masks are applied by the caller), then a Gumbel-max draw in its "exponential
race" form: the token is `argmax(p / E)` with `E = -log(u)`, `u` hashed from (row key, frame,
codebook, candidate rank) by `counter_noise`. The ranks order a row's candidates by its own
scores, which the noise does not depend on, so every candidate still gets an independent uniform
and the draw is exact; the token depends on nothing but the row's seed, its scores and the draw's
place: not on the batch, the slot, the plan's width or the call's shape. Keyed by rank rather than
by vocabulary id, a draw's noise needs no scores: the code predictor's 15 draws of a frame take
theirs from one hash (`rank_noise`), not 15.

Noise is computed only where it can matter: for the `width` best candidates of each row (top-k
keeps no more), never over the whole vocabulary unless some row disables top-k. Shapes depend on
the plan (host-side, fixed while the batch's settings are) and never on the data, so a step is a
fixed sequence of ops (no host sync, capturable in a CUDA graph). Greedy rows take their best
candidate; their noise is computed with the batch's and ignored (a static shape costs less than a branch).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import torch

from tts_engine.step.counter_noise import log_uniform
from tts_engine.step.sampling import RowSampling

CANDIDATE_WIDTHS = (32, 64, 128, 256, 512, 1024)
"""Static candidate widths: a plan takes the smallest that holds every sampled row's top-k."""


@dataclass(frozen=True)
class SamplerPlan:
    """What the host knows about the rows' settings, fixing the ops a draw runs."""

    width: int
    """Candidates per row (the vocabulary when some sampled row has no top-k)."""
    top_p: bool
    """Some sampled row has top_p < 1."""
    sample: bool
    """Some row samples (False: all greedy, no noise at all)."""
    greedy: bool = True
    """Some row is greedy (False: no argmax to take)."""
    groups: int = 0
    """Candidates are looked for in groups of this many ids (`candidates`); 0: one sort of the row."""


def plan_for(settings: Sequence[RowSampling], vocab: int, *, groups: int = 0) -> SamplerPlan:
    """`groups`: the batch's candidate group size (see `candidates`), used where it saves work."""
    sampled = [s for s in settings if s.do_sample]
    if not sampled:
        return SamplerPlan(width=1, top_p=False, sample=False)
    needed = max(s.top_k if 0 < s.top_k < vocab else vocab for s in sampled)
    width = next((w for w in CANDIDATE_WIDTHS if needed <= w < vocab), vocab)
    top_p = any(s.top_p < 1.0 for s in sampled)
    grouped = groups if groups and vocab % groups == 0 and 2 * width * groups <= vocab else 0
    return SamplerPlan(width, top_p, sample=True, greedy=len(sampled) < len(settings), groups=grouped)


def candidates(scores: torch.Tensor, plan: SamplerPlan) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's `plan.width` best scores, best first, and their ids ([B, W] each): what `topk`
    gives. With `plan.groups` = g, the ids are cut into V / g groups of g and only the W groups
    with the best maxima are sorted (W * g scores instead of V). That loses none of the best W: a
    group left out has W groups above it, each holding a score at least its maximum (ties: the same
    values). A group is strided (ids j, j + V/g, j + 2V/g ...), so its maxima are the elementwise
    maximum of g contiguous slices, not a reduction over tiny runs. On the CPU a sort costs per
    score (the row's partial sort is most of a step there); on a GPU one `topk` kernel is cheaper
    than the extra ops, so GPU plans keep g = 0."""
    if not plan.groups:
        return torch.topk(scores, plan.width, dim=-1)
    rows, vocab = scores.shape
    stride = vocab // plan.groups
    best = torch.topk(scores.view(rows, plan.groups, stride).amax(1), plan.width, dim=-1, sorted=False).indices
    ids = (best.unsqueeze(-1) + _group_offsets(vocab, stride, scores.device)).flatten(1)
    values, position = torch.topk(scores.gather(1, ids), plan.width, dim=-1)
    return values, ids.gather(1, position)


@lru_cache(maxsize=16)
def _group_offsets(vocab: int, stride: int, device: torch.device) -> torch.Tensor:
    """The ids of a group, less its first (a constant: one op fewer a draw)."""
    return torch.arange(0, vocab, stride, device=device)


@dataclass
class RowSettings:
    """Per-row sampling settings as tensors on the model's device (views of preallocated state)."""

    do_sample: torch.Tensor
    """[B] bool"""
    temperature: torch.Tensor
    """[B] float32 (1 for greedy rows)"""
    kth: torch.Tensor
    """[B] int64: the effective k minus 1 (k is vocab when top-k is off, 1 for greedy rows)"""
    top_p_limit: torch.Tensor
    """[B] float32: 1 - top_p (a row without top-p: 0, which removes nothing that has probability)"""
    penalty: torch.Tensor
    """[B] float32 repetition penalty (1: none)"""

    def select(self, rows: slice) -> RowSettings:
        return RowSettings(*(t[rows] for t in self.fields()))

    def fields(self) -> tuple[torch.Tensor, ...]:
        return (self.do_sample, self.temperature, self.kth, self.top_p_limit, self.penalty)


def settings_row(setting: RowSampling, vocab: int) -> tuple[bool, float, int, float, float]:
    """One row's values for `RowSettings`, in its field order."""
    k = (setting.top_k if 0 < setting.top_k < vocab else vocab) if setting.do_sample else 1
    return (
        setting.do_sample,
        setting.temperature if setting.do_sample else 1.0,
        k - 1,
        1.0 - setting.top_p if setting.top_p < 1.0 else 0.0,
        setting.repetition_penalty,
    )


def penalise(scores: torch.Tensor, seen: torch.Tensor, penalty: torch.Tensor) -> torch.Tensor:
    """HF's repetition penalty per row over the tokens `seen` [B, V] (a penalty of 1 changes nothing:
    x * 1 and x / 1 are exact)."""
    factor = penalty.unsqueeze(1)
    penalised = torch.where(scores < 0, scores * factor, scores / factor)
    return torch.where(seen, penalised, scores)


def warp(scores: torch.Tensor, rows: RowSettings, plan: SamplerPlan) -> tuple[torch.Tensor, torch.Tensor]:
    """The candidates' probabilities after temperature, top-k and top-p [B, W], and their ids [B, W]."""
    values, index = candidates(scores, plan)  # sorted, best first
    values = values / rows.temperature.unsqueeze(1)
    # HF's top-k keeps every score equal to the k-th one (greedy rows hold k = 1: always in range)
    kth = values.gather(1, rows.kth.unsqueeze(1))
    probs = torch.softmax(values.masked_fill(values < kth, -float("inf")), dim=-1)
    if plan.top_p:
        # HF sums from the least likely up and removes while the sum stays <= 1 - top_p. It never
        # removes the best; here, when everything is removed, every p / log u is 0 and the argmin
        # in `draw` takes the first candidate: the best, the same token.
        tail = probs.flip(-1).cumsum(-1).flip(-1)
        probs = probs.masked_fill(tail <= rows.top_p_limit.unsqueeze(1), 0.0)
    return probs, index


def rank_noise(keys: torch.Tensor, plan: SamplerPlan) -> torch.Tensor | None:
    """log(u) for each draw's candidates, by rank: keys [B] -> [B, W], keys [B, n] (n draws) ->
    [B, n, W]; None when no row samples (nothing to draw)."""
    if not plan.sample:
        return None
    return log_uniform(keys.unsqueeze(-1), torch.arange(plan.width, device=keys.device))


def draw(scores: torch.Tensor, rows: RowSettings, noise: torch.Tensor | None, plan: SamplerPlan) -> torch.Tensor:
    """One token per row [B] (int64) from processed scores [B, V] (float32), `noise` [B, W] the
    draw's log-uniforms by candidate rank (`rank_noise`; None for a plan that does not sample)."""
    if noise is None or not plan.sample:
        return scores.argmax(-1)
    probs, index = warp(scores, rows, plan)
    # exponential race: argmax p / E, E = -log u  <=>  argmin p / log u (log u < 0; p = 0 never wins)
    choice = (probs / noise).argmin(-1, keepdim=True)
    drawn = index.gather(1, choice).squeeze(1)
    # a greedy row's token is its best candidate (candidates come best first): no second pass
    # over the vocabulary for the argmax
    return torch.where(rows.do_sample, drawn, index[:, 0]) if plan.greedy else drawn
