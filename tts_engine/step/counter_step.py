"""The counter engine's step: pure functions of preallocated tensors (a CUDA graph can capture them).

`frame_step` runs one frame for the first `shape.rows` slots: the code predictor's 15 draws, the
frame's embedding, one talker token per row and its draw, and the state updates. Its ops depend
only on `StepShape` (row bucket, attention span, sampler plans): never on the data, and no value
goes to the host. `prefill` starts new rows (padded together, one batch).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from tts_engine.step.counter_model import CounterModel
from tts_engine.step.counter_noise import draw_keys
from tts_engine.step.counter_sampling import SamplerPlan, draw, penalise, rank_noise
from tts_engine.step.layers import attention_inputs, decode_attention, finish_layer, prefill_attention, unit
from tts_engine.step.rows import RowState
from tts_engine.step.static_cache import StaticCache
from tts_engine.step.weights import padded


@dataclass(frozen=True)
class StepShape:
    rows: int
    span: int
    talker: SamplerPlan
    predictor: SamplerPlan


def predict_frame(
    model: CounterModel, state: RowState, scratch: torch.Tensor, keys: torch.Tensor, rows: int, plan: SamplerPlan
) -> list[torch.Tensor]:
    """Codebooks 1..G-1 of each row's frame ([rows] each), from its talker state and codebook 0.

    The code predictor sees a fresh 2-token prefix every frame (the talker's hidden state and
    codebook 0's embedding) and then one token per codebook: fixed positions, so its cache is
    `scratch` [layers, rows, 2 Hk, G, hd], its rotary tables constants and its attention unmasked.
    """
    stack, heads, width = model.predictor, model.heads, model.predictor.hidden
    weight, bias = heads.projection
    past = torch.addmm(bias, state.hidden[:rows], weight)  # from the talker's normalised hidden state
    h = torch.stack((past, F.embedding(state.pending[:rows], heads.predictor_first)), 1).flatten(0, 1)
    settings = state.predictor.select(slice(0, rows))
    noise = rank_noise(keys, plan)  # [rows, G - 1, W]: every draw of the frame in one hash
    kv_heads = stack.kv_heads
    tokens: list[torch.Tensor] = []
    for group in range(model.groups - 1):
        first = group == 0
        if not first:
            h = F.embedding(tokens[-1], heads.predictor_inputs[group - 1])
        position = slice(0, 2) if first else group + 1
        for index, layer in enumerate(stack.layers):
            cos, sin = model.predictor_rope[index]
            q, kv = attention_inputs(h, layer, stack, (cos[position], sin[position]), 2 if first else 1, False)
            cache = scratch[index, :rows]
            if first:
                cache[:, :, :2] = kv.transpose(1, 2)
                attended = prefill_attention(q, kv)
            else:
                cache[:, :, group + 1] = kv[:, 0]
                attended = decode_attention(q, cache[:, :kv_heads, : group + 2], cache[:, kv_heads:, : group + 2], None)
            h = finish_layer(h, attended, layer, width)
        last = h.view(rows, 2, -1)[:, 1] if first else h
        logits = (unit(last, width) @ heads.predictor_heads[group].t()).float()
        tokens.append(draw(logits, settings, None if noise is None else noise[:, group], plan))
    return tokens


def decode_talker(
    model: CounterModel, state: RowState, cache: StaticCache, x: torch.Tensor, shape: StepShape
) -> torch.Tensor:
    """One talker token per row at its own position: the residual stream [rows, D + pad]."""
    stack, rows, span = model.talker, shape.rows, shape.span
    length = state.length[:rows]
    cos, sin = stack.cos[length].unsqueeze(1), stack.sin[length].unsqueeze(1)
    mask = torch.where(model.span_index[:span] <= length.unsqueeze(1), model.zero, model.minus_inf)
    mask = mask.view(rows, 1, 1, span)
    slots = torch.arange(rows, device=x.device)
    kv_heads = stack.kv_heads
    h = x
    for index, layer in enumerate(stack.layers):
        q, new = attention_inputs(h, layer, stack, (cos, sin), 1, True)
        kv = cache.kv[index, :rows]
        kv[slots, :, length] = new[:, 0]
        attended = decode_attention(q, kv[:, :kv_heads, :span], kv[:, kv_heads:, :span], mask)
        h = finish_layer(h, attended, layer, stack.hidden)
    return h


def talker_scores(
    model: CounterModel, state: RowState, normed: torch.Tensor, rows: int, young: torch.Tensor
) -> torch.Tensor:
    """The talker's processed scores [rows, V] (float32) from its normalised hidden states:
    repetition penalty, token masks."""
    logits = (normed @ model.heads.talker_head.t()).float()
    scores = penalise(logits, state.seen[:rows], state.talker.penalty[:rows])
    return scores + model.token_bias[young.long()]


def predictor_step(model: CounterModel, state: RowState, scratch: torch.Tensor, shape: StepShape) -> torch.Tensor:
    """The code predictor's whole frame for the first `shape.rows` slots (its 15 draws inside):
    each row's frame into `state.out[:rows, :G]`, returned. Depends on `rows` and the predictor's
    plan only (one CUDA graph per pair)."""
    rows, groups = shape.rows, model.groups
    frame = state.frame[:rows]
    # draw d of frame f has counter f * G + d: codebooks 1..G-1 here, codebook 0 in `talker_step`
    keys = draw_keys(state.keys[:rows], frame.unsqueeze(1) * groups + torch.arange(1, groups, device=frame.device))
    codes = torch.stack([state.pending[:rows], *predict_frame(model, state, scratch, keys, rows, shape.predictor)], 1)
    out = state.out[:rows]
    out[:, :groups] = codes
    return out


def talker_step(model: CounterModel, state: RowState, cache: StaticCache, shape: StepShape) -> torch.Tensor:
    """The talker's step after `predictor_step`: the frame's embedding, one token per row and its
    draw, the state updates; returns `state.out[:rows]` (each row's frame and next codebook-0
    token). Depends on `rows`, `span` and the talker's plan (one CUDA graph per triple)."""
    rows, groups = shape.rows, model.groups
    frame = state.frame[:rows]
    out = state.out[:rows]
    codes = out[:, :groups]
    embedded = F.embedding(codes + model.heads.frame_offsets, model.heads.frame_embeddings).sum(1)
    start, count = state.text[:rows, 0], state.text[:rows, 1]
    text = F.embedding(torch.where(frame < count, start + frame, 0), state.texts.pool)
    normed = unit(decode_talker(model, state, cache, embedded + text, shape), model.talker.hidden)
    scores = talker_scores(model, state, normed, rows, frame == 0)
    key = draw_keys(state.keys[:rows], (frame * groups + groups).unsqueeze(1))[:, 0]  # next frame's d = 0
    token = draw(scores, state.talker.select(slice(0, rows)), rank_noise(key, shape.talker), shape.talker)
    state.seen[:rows].scatter_(1, token.unsqueeze(1), True)
    state.pending[:rows] = token
    state.hidden[:rows] = normed
    state.counters[:rows] += state.active[:rows].unsqueeze(1)
    out[:, groups] = token
    return out


def frame_step(
    model: CounterModel, state: RowState, cache: StaticCache, scratch: torch.Tensor, shape: StepShape
) -> torch.Tensor:
    """One frame for every row in the first `shape.rows` slots (the two parts above, eagerly);
    returns `state.out[:rows]`: each row's frame (G codes) and its next codebook-0 token."""
    predictor_step(model, state, scratch, shape)
    return talker_step(model, state, cache, shape)


def prefill(
    model: CounterModel,
    state: RowState,
    cache: StaticCache,
    slots: range,
    embeds: torch.Tensor,
    lengths: list[int],
    plan: SamplerPlan,
) -> None:
    """Start rows in `slots` from their prefixes `embeds` [m, L, D] (right-padded to the longest):
    their keys and values into the cache, their hidden state and first token into the state."""
    stack = model.talker
    count, tokens = embeds.shape[0], embeds.shape[1]
    rope = (stack.cos[:tokens], stack.sin[:tokens])
    h = padded(embeds.reshape(count * tokens, -1), stack.norm_column)
    for index, layer in enumerate(stack.layers):
        q, kv = attention_inputs(h, layer, stack, rope, tokens, True)
        cache.kv[index, slots.start : slots.stop, :, :tokens] = kv.transpose(1, 2)
        h = finish_layer(h, prefill_attention(q, kv), layer, stack.hidden)
    last = torch.tensor([length - 1 for length in lengths], device=h.device)
    normed = unit(h.view(count, tokens, -1)[torch.arange(count, device=h.device), last], stack.hidden)
    chosen = slice(slots.start, slots.stop)
    # a new row has seen nothing (no penalty) and may not stop yet
    scores = (normed @ model.heads.talker_head.t()).float() + model.token_bias[1]
    keys = draw_keys(state.keys[chosen], torch.zeros(count, 1, dtype=torch.int64, device=h.device))
    token = draw(scores, state.talker.select(chosen), rank_noise(keys[:, 0], plan), plan)
    state.seen[chosen].scatter_(1, token.unsqueeze(1), True)
    state.pending[chosen] = token
    state.hidden[chosen] = normed
