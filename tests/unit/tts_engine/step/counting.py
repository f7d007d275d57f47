"""Counting what a step costs on the host: aten ops (about one kernel launch each on a GPU) and the
points where the host waits for the device or hands it Python data.

- ops: a `TorchDispatchMode` sees every aten op below autograd; view ops (no kernel) are not counted.
- syncs: device-to-host reads (`item`, `tolist`, `bool(tensor)`, `cpu`, `numpy`: on a GPU each
  waits for the device) and tensors built from Python data (`torch.tensor`, `torch.as_tensor`: on
  a GPU a pageable host-to-device copy, synchronous).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from tiny_checkpoints.checkpoint import main_config, tiny_shape

READS = ("item", "tolist", "cpu", "numpy", "__bool__", "__int__", "__float__")
BUILDS = ("tensor", "as_tensor")


@dataclass
class Count:
    ops: Counter[str] = field(default_factory=Counter)
    syncs: Counter[str] = field(default_factory=Counter)

    @property
    def total_ops(self) -> int:
        return sum(self.ops.values())

    @property
    def total_syncs(self) -> int:
        return sum(self.syncs.values())


class _Ops(TorchDispatchMode):
    def __init__(self, count: Count) -> None:
        super().__init__()
        self.count = count

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        if not func.is_view:
            self.count.ops[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


@contextmanager
def counting() -> Iterator[Count]:
    count = Count()
    saved: list[tuple[Any, str, Any]] = []

    def wrap(owner: Any, name: str) -> None:
        original = getattr(owner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            count.syncs[name] += 1
            return original(*args, **kwargs)

        saved.append((owner, name, original))
        setattr(owner, name, counted)

    for name in READS:
        wrap(torch.Tensor, name)
    for name in BUILDS:
        wrap(torch, name)
    try:
        with _Ops(count):
            yield count
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)


def count_call(action: Callable[[], Any]) -> Count:
    with counting() as count:
        action()
    return count


TEXT_IDS = {"<|im_start|>": 1, "<|im_end|>": 2, "<tts_pad>": 3, "<tts_text_bos>": 4, "<tts_text_eod>": 5}


def real_depth_talker(dtype: torch.dtype = torch.bfloat16) -> Any:
    """A talker with the real 1.7B depth (28 talker layers, 5 code-predictor layers, 16 code groups,
    codebook 2048, grouped-query attention) and tiny widths, random weights: the op count of a step
    depends on the depth, not on the widths."""
    from qwen_tts.core.models.configuration_qwen3_tts import Qwen3TTSTalkerConfig
    from qwen_tts.core.models.modeling_qwen3_tts import Qwen3TTSTalkerForConditionalGeneration

    config = main_config("custom_voice", "1.7B", tiny_shape("1.7B", True), {**TEXT_IDS, "vocab_size": 64})
    talker = dict(config["talker_config"])
    talker.update(num_hidden_layers=28, num_attention_heads=4, num_key_value_heads=2)
    predictor = dict(talker["code_predictor_config"])
    predictor.update(num_hidden_layers=5, num_attention_heads=4, num_key_value_heads=2)
    talker["code_predictor_config"] = predictor
    torch.manual_seed(0)
    module = Qwen3TTSTalkerForConditionalGeneration(Qwen3TTSTalkerConfig(**talker)).eval()
    return module.to(dtype)


def as_tts(talker: Any) -> Any:
    """The attributes of a `Qwen3TTSModel` the step code reads, around a bare talker."""
    return SimpleNamespace(model=SimpleNamespace(talker=talker, config=SimpleNamespace(talker_config=talker.config)))
