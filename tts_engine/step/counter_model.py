"""One model's prepared weights and constants for the counter step (built once per model)."""

from __future__ import annotations

from typing import Any

import torch

from tts_engine.step.weights import Stack, prepare_heads, prepare_stack


def _scalar(value: float, like: torch.Tensor) -> torch.Tensor:
    return torch.tensor(value, dtype=like.dtype, device=like.device)


class CounterModel:
    def __init__(self, talker: Any, *, positions: int) -> None:
        config = talker.config
        predictor = talker.code_predictor
        if getattr(config, "sliding_window", None) and getattr(config, "use_sliding_window", False):
            raise ValueError("the step engine does not implement sliding-window attention in the talker")
        self.groups = int(config.num_code_groups)
        window = getattr(predictor.config, "sliding_window", None)
        if getattr(predictor.model, "has_sliding_layers", False) and window is not None and window < self.groups:
            raise ValueError("the counter step does not implement a code-predictor window shorter than a frame")
        self.vocab = int(config.vocab_size)
        self.predictor_vocab = int(predictor.config.vocab_size)
        self.eos = int(config.codec_eos_token_id)
        self.positions = positions
        self.talker = prepare_stack(talker.model, positions, axes=3)
        self.predictor = prepare_stack(predictor.model, self.groups, axes=1)
        self.heads = prepare_heads(talker, self.talker.norm_column, self.predictor.norm_column)
        head = self.heads.talker_head
        self.dtype, self.device = head.dtype, head.device
        self.zero, self.minus_inf = _scalar(0.0, head), _scalar(-float("inf"), head)
        self.span_index = torch.arange(positions, device=self.device)
        self.predictor_rope = [_fold_rope(self.predictor, layer.qk_norm) for layer in self.predictor.layers]
        # the talker's token masks as additive biases: control ids suppressed; EOS too while a row
        # has sampled fewer than 2 tokens (the package's min_new_tokens)
        suppressed = torch.zeros(self.vocab, device=self.device)
        suppressed[self.vocab - 1024 :] = -float("inf")
        suppressed[self.eos] = 0.0
        young = suppressed.clone()
        young[self.eos] = -float("inf")
        self.token_bias = torch.stack([suppressed, young])
        """[2, V]: row 0 for rows that may stop, row 1 for rows that may not yet"""


def _fold_rope(stack: Stack, qk_norm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rotary tables [positions, H, hd] with one layer's q/k-norm weights folded in (rotating w * x
    is x * (w cos) + flip(x) * (flip(w) sin)): the code predictor's positions are the same every
    frame, so these are constants."""
    half = qk_norm.shape[-1] // 2
    swapped = qk_norm.unflatten(-1, (2, half)).flip(-2).flatten(-2)
    return stack.cos * qk_norm, stack.sin * swapped
