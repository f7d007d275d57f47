"""Load a Qwen3-TTS checkpoint through the real `Qwen3TTSModel.from_pretrained`, and describe it."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from typing import Any

from tts_engine.config import EngineConfig

log = logging.getLogger(__name__)

# Written by scripts/make_tiny_checkpoints.py into every tiny random checkpoint.
TINY_MARKER_FILE = "TINY_RANDOM_CHECKPOINT.json"


def weights_kind(weights: str) -> str:
    """`tiny_random` (our generated noise checkpoints), `local` (a directory) or `hub` (a hub id)."""
    if os.path.isdir(weights):
        return "tiny_random" if os.path.isfile(os.path.join(weights, TINY_MARKER_FILE)) else "local"
    return "hub"


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda:0" if torch.cuda.is_available() else "cpu"
    return device


def cuda_memory(device: str) -> Callable[[], tuple[int, int]] | None:
    """(allocated, reserved) bytes of torch's allocator on `device`, or None off the GPU."""
    import torch

    device = resolve_device(device)
    if not device.startswith("cuda"):
        return None
    return lambda: (torch.cuda.memory_allocated(device), torch.cuda.memory_reserved(device))


def resolve_dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    return getattr(torch, dtype)


def load_model(config: EngineConfig) -> Any:
    """Return a `qwen_tts.Qwen3TTSModel` on the configured device and dtype."""
    from qwen_tts import Qwen3TTSModel

    device = resolve_device(config.device)
    dtype = resolve_dtype(config.dtype, device)
    kind = weights_kind(config.weights)
    if kind == "tiny_random":
        log.warning(
            "model %s serves TINY RANDOM weights from %s: it speaks noise (tests and offline runs only)",
            config.model_name,
            config.weights,
        )
    kwargs: dict[str, Any] = {"device_map": device, "dtype": dtype}
    if config.attn_implementation:
        kwargs["attn_implementation"] = config.attn_implementation
    model = Qwen3TTSModel.from_pretrained(config.weights, **kwargs)
    from tts_engine.codec.masks import install

    install(model.model.speech_tokenizer)  # the codec's masks once per length, not per call
    return model


def describe(config: EngineConfig) -> dict[str, Any]:
    """What /health and /models report about one configured model: the truth about its weights."""
    kind = weights_kind(config.weights)
    info: dict[str, Any] = {
        "model_name": config.model_name,
        "variant": config.variant.value,
        "model_size": config.size,
        "weights": config.weights,
        "weights_kind": kind,
        "device": config.device,
        "dtype": config.dtype,
    }
    if kind == "tiny_random":
        with open(os.path.join(config.weights, TINY_MARKER_FILE), encoding="utf-8") as handle:
            info["tiny_checkpoint"] = json.load(handle)
    return info
