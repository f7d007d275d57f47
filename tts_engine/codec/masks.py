"""The codec decoder's attention masks, built once per length instead of at every call.

The package runs the decoder's small transformer (`pre_transformer`) with neither a padding mask
nor a cache, so transformers checks its position ids for packed sequences and builds both masks
(causal and sliding window) through `vmap` at every call: on the CPU that was more than half of a
short call (one row of 16 frames: 14 ms, 6 ms without it; 5.4 against 4.6 ms a row in calls of 8).
The masks depend only on the call's length, dtype, device and attention kind, so `install` builds
them with the package's own functions once per length (at one row; a call's rows share a view of
it) and hands them to the transformer: its output is the same, bit for bit
(tests/unit/tts_engine/codec/test_masks.py).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch

MAX_LENGTHS = 64
"""Lengths kept (least recently used dropped): a mask is T x T booleans, T <= 325 frames a call."""

Key = tuple[int, torch.dtype, torch.device, str]
Masks = dict[str, torch.Tensor | None]


class MaskCache:
    """A forward pre-hook of the codec's `pre_transformer` that passes it its masks, made once."""

    def __init__(self, transformer: Any, *, capacity: int = MAX_LENGTHS) -> None:
        from qwen_tts.core.tokenizer_12hz import modeling_qwen3_tts_tokenizer_v2 as codec_module

        self._module = codec_module  # its names for the mask functions: the ones its forward calls
        self._transformer = transformer
        self._capacity = capacity
        self._masks: OrderedDict[Key, Masks] = OrderedDict()
        self.built = 0
        """Lengths built so far (the tests count them)."""

    def __call__(self, module: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        embeds = kwargs.get("inputs_embeds")
        given = ("attention_mask", "past_key_values", "position_ids", "cache_position")
        if args or embeds is None or any(kwargs.get(name) is not None for name in given):
            return None  # not the package's plain call: built its own way
        rows = embeds.shape[0]
        masks = {kind: None if mask is None else mask.expand(rows, *mask.shape[1:])
                 for kind, mask in self._for(embeds).items()}  # fmt: skip
        return args, {**kwargs, "attention_mask": masks}

    def _for(self, embeds: torch.Tensor) -> Masks:
        config = self._transformer.config
        key = (int(embeds.shape[1]), embeds.dtype, embeds.device, str(config._attn_implementation))
        masks = self._masks.get(key)
        if masks is not None:
            self._masks.move_to_end(key)
            return masks
        # what the transformer's forward passes to the mask functions, at one row
        positions = torch.arange(key[0], device=embeds.device)
        arguments = {
            "config": config,
            "input_embeds": embeds[:1],  # only its shape, dtype and device are read
            "attention_mask": None,
            "cache_position": positions,
            "past_key_values": None,
            "position_ids": positions.unsqueeze(0),
        }
        masks = {"full_attention": self._module.create_causal_mask(**arguments)}
        if self._transformer.has_sliding_layers:
            masks["sliding_attention"] = self._module.create_sliding_window_causal_mask(**arguments)
        self._masks[key] = masks
        self.built += 1
        if len(self._masks) > self._capacity:
            self._masks.popitem(last=False)
        return masks


def install(speech_tokenizer: Any) -> MaskCache:
    """Give the codec's decoder its masks once per length (once per model: a second call returns
    the cache already installed)."""
    transformer = speech_tokenizer.model.decoder.pre_transformer
    cache = getattr(transformer, "_qwen_tts_mask_cache", None)
    if cache is None:
        cache = MaskCache(transformer)
        transformer.register_forward_pre_hook(cache, with_kwargs=True)
        transformer._qwen_tts_mask_cache = cache
    return cache
