"""Batched decoding steps over the package's own talker and code predictor modules and weights.

What the package's Hugging Face `generate` calls do for one sequence, done here for a batch of
rows that each have their own length, position, text offset and sampling settings:

- `prefill`: one new row's prefix through the talker (as the package's first `generate` step);
- `predict_codes`: the code predictor's 2-token prefill and its per-group steps, batched (every
  row has the same shape here, so no padding and no mask);
- `frame_input`: the sum of a frame's codebook embeddings plus the row's text embedding;
- `decode`: one talker step for all rows against the `SlotCache`, per-row RoPE positions.

Logits are computed over the same tensor shapes as the package (the full sequence, then the last
position) so a row alone reproduces the package's numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers.cache_utils import DynamicCache

from tts_engine.step.cache import SlotCache
from tts_engine.step.noise import StepNoise
from tts_engine.step.sampling import RowSampling, apply_repetition_penalty, sample


class TalkerOps:
    def __init__(self, tts: Any) -> None:
        self.talker = tts.model.talker
        self.predictor = self.talker.code_predictor
        config = tts.model.config.talker_config
        self.groups = int(config.num_code_groups)
        self.eos = int(config.codec_eos_token_id)
        self.vocab = int(config.vocab_size)
        self.predictor_vocab = int(self.predictor.lm_head[0].out_features)
        self.device = self.talker.device
        self.dtype = self.talker.dtype
        suppressed = [i for i in range(self.vocab - 1024, self.vocab) if i != self.eos]
        self.suppress = torch.zeros(self.vocab, dtype=torch.bool, device=self.device)
        self.suppress[suppressed] = True
        model_config = self.talker.model.config
        self.layers = len(self.talker.model.layers)
        self.kv_heads = int(model_config.num_key_value_heads)
        self.head_dim = int(
            getattr(model_config, "head_dim", model_config.hidden_size // model_config.num_attention_heads)
        )
        # No padding in the code predictor: no mask to build (SDPA applies causality itself), as
        # HF's own mask helper concludes for unpadded input; skipping it saves time every group.
        self._predictor_sliding = bool(getattr(self.predictor.model, "has_sliding_layers", False))
        self._rope_cache: dict[tuple[int, torch.dtype], tuple[torch.Tensor, Any]] = {}
        if getattr(model_config, "sliding_window", None) and getattr(model_config, "use_sliding_window", False):
            raise ValueError("the step engine does not implement sliding-window attention in the talker")

    def new_cache(self, rows: int) -> SlotCache:
        return SlotCache(
            layers=self.layers,
            rows=rows,
            kv_heads=self.kv_heads,
            head_dim=self.head_dim,
            dtype=self.dtype,
            device=self.device,
        )

    def prefill(self, embeds: torch.Tensor) -> tuple[DynamicCache, torch.Tensor, torch.Tensor]:
        """One row's prefix [1, L, D]: its cache, last hidden state [1, 1, D], logits [1, V] (fp32)."""
        cache = DynamicCache()
        length = embeds.shape[1]
        mask = torch.ones(1, length, dtype=torch.long, device=self.device)
        positions = torch.arange(length, device=self.device).view(1, 1, -1).expand(3, 1, -1)
        out = self.talker.model(
            inputs_embeds=embeds, attention_mask=mask, position_ids=positions, past_key_values=cache, use_cache=True
        )
        hidden = out.last_hidden_state
        logits = self.talker.codec_head(hidden)[:, -1, :].to(torch.float32)
        return cache, hidden[:, -1:, :], logits

    def predict_codes(
        self,
        past_hidden: torch.Tensor,
        first: torch.Tensor,
        rows: Sequence[RowSampling],
        noise: StepNoise,
    ) -> torch.Tensor:
        """Codebooks 1..G-1 of each row's frame [B, G-1], from its talker state and codebook 0 [B]."""
        embedded = self.talker.get_input_embeddings()(first.unsqueeze(1))
        cache = DynamicCache()
        inputs = self.predictor.small_to_mtp_projection(torch.cat((past_hidden, embedded), dim=1))
        tokens: list[torch.Tensor] = []
        for group in range(self.groups - 1):
            if group:
                step = self.predictor.model.get_input_embeddings()[group - 1](tokens[-1].unsqueeze(1))
                inputs = self.predictor.small_to_mtp_projection(step)
            hidden = self._predictor_layers(inputs, cache, group)
            logits = self.predictor.lm_head[group](hidden)[:, -1, :].to(torch.float32)
            tokens.append(sample(logits, rows, noise.predictor(group)))
        return torch.stack(tokens, dim=1)

    def _predictor_layers(self, inputs: torch.Tensor, cache: DynamicCache, group: int) -> torch.Tensor:
        """The code predictor model's forward for unpadded rows: its layers and norm, called directly.

        What `Qwen3TTSTalkerCodePredictorModel.forward` does once its mask is known to be None
        (SDPA applies causality itself for the 2-token prefill), without the per-call bookkeeping
        that costs more than the layers at small sizes. Positions are the same for every frame
        (0-1, then 2, 3, ...), so their rotary embeddings are computed once and reused.
        """
        model = self.predictor.model
        if self._predictor_sliding:  # sliding-window layers need their mask: the model's own forward
            out = model(inputs_embeds=inputs, past_key_values=cache, use_cache=True)
            return out.last_hidden_state
        positions, rope = self._predictor_rope(inputs, group)
        hidden = inputs
        for layer in model.layers[: model.config.num_hidden_layers]:
            hidden = layer(
                hidden,
                attention_mask=None,
                position_ids=positions,
                past_key_values=cache,
                use_cache=True,
                cache_position=positions[0],
                position_embeddings=rope,
            )[0]
        return model.norm(hidden)

    def _predictor_rope(self, inputs: torch.Tensor, group: int) -> tuple[torch.Tensor, Any]:
        cached = self._rope_cache.get((group, inputs.dtype))
        if cached is None:
            start = 0 if group == 0 else group + 1
            positions = torch.arange(start, group + 2, device=inputs.device).unsqueeze(0)
            cached = (positions, self.predictor.model.rotary_emb(inputs, positions))
            self._rope_cache[(group, inputs.dtype)] = cached
        return cached

    def frame_input(self, first: torch.Tensor, rest: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """The talker's next input [B, 1, D]: the frame's codebook embeddings summed, plus text [B, D]."""
        parts = [self.talker.get_input_embeddings()(first.unsqueeze(1))]
        parts += [self.predictor.get_input_embeddings()[i](rest[:, i : i + 1]) for i in range(self.groups - 1)]
        return torch.cat(parts, dim=1).sum(1, keepdim=True) + text.unsqueeze(1)

    def decode(self, inputs: torch.Tensor, cache: SlotCache) -> tuple[torch.Tensor, torch.Tensor]:
        """One talker step for every row: hidden states [B, 1, D] and logits [B, V] (fp32)."""
        mask = cache.begin_step()
        positions = cache.positions()
        model = self.talker.model
        rope = model.rotary_emb(inputs, positions)
        hidden = inputs
        for layer in model.layers:
            hidden = layer(
                hidden,
                attention_mask=mask,
                position_ids=positions[0],
                past_key_values=cache,
                use_cache=True,
                position_embeddings=rope,
            )[0]
        hidden = model.norm(hidden)
        cache.end_step()
        return hidden, self.talker.codec_head(hidden)[:, -1, :].to(torch.float32)

    def process(
        self, logits: torch.Tensor, seen: torch.Tensor, rows: Sequence[RowSampling], sampled: Sequence[int]
    ) -> torch.Tensor:
        """The talker's logits processors, per row: repetition penalty over the row's own codebook-0
        history, EOS blocked for the first two tokens (min_new_tokens), control ids suppressed."""
        scores = apply_repetition_penalty(logits, seen, [row.repetition_penalty for row in rows])
        young = torch.tensor([count < 2 for count in sampled], device=scores.device)
        if bool(young.any()):
            scores = scores.clone()
            scores[young, self.eos] = -float("inf")
        return scores.masked_fill(self.suppress, -float("inf"))
