"""The package's talker and code-predictor weights, rearranged once for a step with few ops.

- q, k and v projections as one matrix (one matmul), gate and up as one (one matmul);
- each RMSNorm's weight (and the sqrt(width) of `layers.unit`) folded into the matrix that
  reads the normalised vector (exact in real numbers; in bf16 the folded weight is rounded once);
- the residual stream carries `RESIDUAL_PAD` extra columns: the first holds sqrt(width * eps),
  the rest zeros, and no matrix reads or writes them, so |h| over the padded row is
  sqrt(|h|^2 + width * eps) and RMSNorm is `h / |h|` (2 ops, RMSNorm's own eps included);
- the q/k-norm weights as one [q heads + k heads, head_dim] multiplier;
- rotary tables for every position, with rotate_half's sign folded into the sine;
- the code predictor's embedding tables passed through its input projection ahead of time, and
  every codebook's embedding table stacked into one (a frame's embeddings in one lookup).

The fused qkv and gate/up matrices are copies (norms folded in: not views), about two thirds of
the layers' weights; the rest are views of the package's tensors. Serving with the counter step,
nothing reads the package's own copies, so `release_fused_sources` frees them (1.85 GiB of
the 1.7B model in bf16); the reference sampler and the tests that compare against the package keep
them.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Layer:
    qkv: torch.Tensor
    """[(Hq + 2 Hk) * hd, D], input norm folded in"""
    qk_norm: torch.Tensor
    """[Hq + 2 Hk, hd]: q-norm then k-norm weights times sqrt(hd), then ones (v heads)"""
    o: torch.Tensor
    """[Hq * hd, D]: the package's o_proj weight, transposed (a view: no copy)"""
    gate_up: torch.Tensor
    """[2 I, D], post-attention norm folded in"""
    down: torch.Tensor
    """[I, D]: the package's down_proj weight, transposed (a view)"""


@dataclass(frozen=True)
class Stack:
    layers: list[Layer]
    heads: int
    kv_heads: int
    head_dim: int
    hidden: int
    eps: float
    cos: torch.Tensor
    """[positions, H, hd] rotary cosines for every head (H = Hq + 2 Hk; v heads: `V_SCALE`)"""
    sin: torch.Tensor
    """[positions, H, hd] rotary sines, rotate_half's sign folded in (v heads: 0)"""
    head_floors: torch.Tensor
    """[H, 1]: sqrt(hd * eps) for q and k heads, `V_SCALE` for v heads (see `layers.attention_inputs`)"""

    @property
    def all_heads(self) -> int:
        return self.heads + 2 * self.kv_heads

    @property
    def norm_column(self) -> float:
        """The residual stream's constant extra column: sqrt(width * eps)."""
        return math.sqrt(self.hidden * self.eps)


def padded(table: torch.Tensor, column: float) -> torch.Tensor:
    """`table` [N, D] with the residual stream's extra columns ([N, D + RESIDUAL_PAD])."""
    extra = torch.zeros(table.shape[0], RESIDUAL_PAD, dtype=table.dtype, device=table.device)
    extra[:, 0] = column
    return torch.cat([table, extra], dim=1)


def _folded(weight: torch.Tensor, norm: torch.Tensor) -> torch.Tensor:
    """W @ diag(norm weight * sqrt(width)), computed in float32, rounded once to the model dtype."""
    scale = norm.detach().float() * math.sqrt(norm.shape[0])
    return (weight.detach().float() * scale).to(weight.dtype)


_RELEASED: weakref.WeakKeyDictionary[Any, Layer] = weakref.WeakKeyDictionary()
"""The `Layer` of each package layer whose sources `release_fused_sources` freed: a later counter
model on the same model (another runner) is built from it."""


def _layer(module: Any) -> Layer:
    released = _RELEASED.get(module)
    return released if released is not None else _fused_layer(module)


def _fused_layer(module: Any) -> Layer:
    attn, mlp = module.self_attn, module.mlp
    qkv = torch.cat([attn.q_proj.weight, attn.k_proj.weight, attn.v_proj.weight]).detach()
    if attn.q_proj.bias is not None:
        raise ValueError("the counter step does not implement attention biases")
    heads = attn.q_proj.out_features // attn.head_dim
    kv_heads = attn.k_proj.out_features // attn.head_dim
    root = math.sqrt(attn.head_dim)
    qk_norm = torch.cat(
        [
            (attn.q_norm.weight.detach().float() * root).expand(heads, -1),
            (attn.k_norm.weight.detach().float() * root).expand(kv_heads, -1),
            torch.ones(kv_heads, attn.head_dim, device=qkv.device),
        ]
    ).to(qkv.dtype)
    gate_up = torch.cat([mlp.gate_proj.weight, mlp.up_proj.weight]).detach()
    return Layer(
        qkv=_folded(qkv, module.input_layernorm.weight),
        qk_norm=qk_norm,
        o=attn.o_proj.weight.detach().t(),
        gate_up=_folded(gate_up, module.post_attention_layernorm.weight),
        down=mlp.down_proj.weight.detach().t(),
    )


RESIDUAL_PAD = 8
"""Extra residual columns (8 keeps rows aligned for a GPU's matrix kernels)."""

V_SCALE = 2.0**40
"""The v heads' norm floor and rotary cosine: a power of two far above any activation, so dividing
by hypot(|v|, it) and multiplying back are exact."""


def _rotary(rotary: Any, positions: int, dtype: torch.dtype, device: torch.device, axes: int) -> tuple[Any, Any]:
    """cos and signed sin [positions, hd] from the model's own rotary module. The talker's multimodal
    RoPE has three identical position rows for speech, so its sections all read the same values."""
    ids = torch.arange(positions, device=device).unsqueeze(0)
    if axes == 3:
        ids = ids.unsqueeze(0).expand(3, 1, -1)
    probe = torch.zeros(1, dtype=dtype, device=device)
    cos, sin = rotary(probe, ids)
    cos, sin = cos.reshape(-1, positions, cos.shape[-1])[0], sin.reshape(-1, positions, sin.shape[-1])[0]
    half = sin.shape[-1] // 2
    sign = torch.cat([-torch.ones(half, device=device), torch.ones(half, device=device)]).to(sin.dtype)
    return cos.contiguous(), (sin * sign).contiguous()


def prepare_stack(model: Any, positions: int, *, axes: int) -> Stack:
    """A decoder stack (the talker's `model` or the predictor's `model`) with `positions` rotary rows."""
    config = model.config
    if getattr(config, "attention_bias", False):
        raise ValueError("the counter step does not implement attention biases")
    first = model.layers[0].self_attn
    layers = [_layer(module) for module in model.layers[: config.num_hidden_layers]]
    weight = layers[0].qkv
    cos, sin = _rotary(model.rotary_emb, positions, weight.dtype, weight.device, axes)
    heads, kv_heads = first.q_proj.out_features // first.head_dim, first.k_proj.out_features // first.head_dim
    is_v = (torch.arange(heads + 2 * kv_heads, device=weight.device) >= heads + kv_heads).view(-1, 1)
    floor = math.sqrt(first.head_dim * float(config.rms_norm_eps))
    return Stack(
        layers=layers,
        heads=heads,
        kv_heads=kv_heads,
        head_dim=first.head_dim,
        hidden=int(config.hidden_size),
        eps=float(config.rms_norm_eps),
        cos=torch.where(is_v, V_SCALE, cos.unsqueeze(1)).to(weight.dtype),
        sin=torch.where(is_v, 0.0, sin.unsqueeze(1)).to(weight.dtype),
        head_floors=torch.where(is_v, V_SCALE, floor).to(weight.dtype),
    )


@dataclass(frozen=True)
class Heads:
    """Everything around the two stacks: embeddings, output heads, projections."""

    talker_head: torch.Tensor
    """[V, D] codec head, final talker norm folded in"""
    frame_embeddings: torch.Tensor
    """[V + (G-1) Vp, D + pad]: the talker's codec embedding, then each predictor group's table
    (extra columns zero: the text embedding added to their sum brings the constant)"""
    frame_offsets: torch.Tensor
    """[G] where each codebook's table starts in `frame_embeddings`"""
    predictor_first: torch.Tensor
    """[V, Dp + pad]: the talker's codec embedding through the predictor's input projection"""
    predictor_inputs: list[torch.Tensor]
    """per group 1..G-2: [Vp, Dp + pad] that group's embedding through the input projection"""
    projection: tuple[torch.Tensor, torch.Tensor]
    """(weight [D, Dp + pad], bias [Dp + pad]): the predictor's input projection of the talker's
    normalised hidden state, the talker's final norm folded in, its output padded"""
    predictor_heads: list[torch.Tensor]
    """per group: [Vp, Dp] output head, final predictor norm folded in"""


def _project(table: torch.Tensor, projection: Any) -> torch.Tensor:
    return projection(table.detach()).detach().contiguous()


def prepare_heads(talker: Any, talker_column: float, predictor_column: float) -> Heads:
    """The embedding tables that start a residual stream come padded with its extra columns."""
    predictor = talker.code_predictor
    projection = predictor.small_to_mtp_projection
    talker_table = talker.get_input_embeddings().weight.detach()
    tables = [talker_table] + [e.weight.detach() for e in predictor.get_input_embeddings()]
    offsets = torch.tensor([0, *torch.tensor([t.shape[0] for t in tables[:-1]]).cumsum(0).tolist()])
    # the predictor reads the talker's final-norm output: that norm's weight goes into its projection
    norm = talker.model.norm.weight
    if isinstance(projection, torch.nn.Linear):
        weight = _folded(projection.weight, norm).t()
        bias = projection.bias.detach() if projection.bias is not None else torch.zeros_like(weight[0])
    else:
        weight = torch.diag(norm.detach().float() * math.sqrt(norm.shape[0])).to(norm.dtype)
        bias = torch.zeros_like(weight[0])
    return Heads(
        talker_head=_folded(talker.codec_head.weight, talker.model.norm.weight),
        frame_embeddings=padded(torch.cat(tables), 0.0),
        frame_offsets=offsets.to(talker_table.device),
        predictor_first=padded(_project(talker_table, projection), predictor_column),
        predictor_inputs=[padded(_project(t, projection), predictor_column) for t in tables[1:-1]],
        projection=(padded(weight, 0.0), padded(bias.unsqueeze(0), predictor_column)[0]),
        predictor_heads=[_folded(h.weight, predictor.model.norm.weight) for h in predictor.lm_head],
    )


FUSED_SOURCES = (("self_attn", ("q_proj", "k_proj", "v_proj")), ("mlp", ("gate_proj", "up_proj")))
"""The package's projections a `Layer` holds fused (qkv, gate_up)."""


class ReleasedWeightError(RuntimeError):
    """The package's forward ran on a layer whose weights the counter step took over."""


def _refuse(module: Any, args: Any) -> None:
    raise ReleasedWeightError("this layer's weights were released: the counter step holds them fused")


def release_fused_sources(talker: Any, stacks: tuple[Stack, Stack]) -> int:
    """Free the package's q/k/v and gate/up weights in the talker's and the code predictor's layers,
    which `stacks` (the counter model's talker and predictor, prepared from `talker`) hold fused,
    and make those projections refuse to run: a stray call of the package's forward fails loudly
    instead of computing with nothing. Returns the bytes freed."""
    freed = 0
    for modules, stack in zip((talker.model.layers, talker.code_predictor.model.layers), stacks, strict=False):
        for module, layer in zip(modules, stack.layers, strict=False):
            _RELEASED[module] = layer
            for part, names in FUSED_SOURCES:
                for name in names:
                    linear = getattr(getattr(module, part), name)
                    if linear.weight.numel() == 0:
                        continue
                    freed += linear.weight.numel() * linear.weight.element_size()
                    linear.weight = torch.nn.Parameter(linear.weight.new_empty(0), requires_grad=False)
                    linear.register_forward_pre_hook(_refuse)
    return freed
