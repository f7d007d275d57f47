"""What the Triton side can tell the API about itself: GPU, and where every model's weights come from.

Served by the `engine_info` Triton model so the API (which has no torch) reports what is true in
the Triton container: the same environment, the same `config.pbtxt` files, the same resolution.
"""

from __future__ import annotations

import json
import os
import re
import urllib.request
from pathlib import Path
from typing import Any

from tts_engine.config import ConfigError, parse_engine_config
from tts_engine.loader import describe


def read_model_config(config_path: Path) -> str:
    """A `config.pbtxt` as the JSON Triton hands to `initialize()` (proto field names)."""
    from google.protobuf import json_format, text_format
    from tritonclient.grpc import model_config_pb2

    message = text_format.Parse(config_path.read_text(encoding="utf-8"), model_config_pb2.ModelConfig())
    return json.dumps(json_format.MessageToDict(message, preserving_proto_field_name=True))


def describe_repository(repository: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Describe every TTS model folder in the repository (folders whose config names a variant)."""
    models: dict[str, Any] = {}
    for config_path in sorted(repository.glob("*/config.pbtxt")):
        try:
            config = parse_engine_config(read_model_config(config_path), dict(os.environ) if env is None else env)
        except ConfigError:
            continue
        models[config.model_name] = describe(config)
    return models


# The generation loops' gauges (engine_metrics.py), one per model process, on Triton's metrics port.
_MEMORY_GAUGE = re.compile(r"^qwen_tts_engine_gpu_(allocated|reserved)_bytes\{[^}]*\}\s+(\S+)", re.MULTILINE)


def models_gpu_memory(metrics_text: str) -> dict[str, float]:
    """Bytes allocated and reserved by torch, summed over the TTS model processes."""
    totals = {"allocated": 0.0, "reserved": 0.0}
    for kind, value in _MEMORY_GAUGE.findall(metrics_text):
        totals[kind] += float(value)
    return totals


_POOL_GAUGE = re.compile(
    r'^qwen_tts_engine_(kv_cache_bytes|max_rows)\{[^}]*model="([^"]+)"[^}]*\}\s+(\S+)', re.MULTILINE
)


def models_pools(metrics_text: str) -> dict[str, dict[str, float | int]]:
    """Each loaded model's batch: its rows and KV cache (GiB), from its loop's gauges."""
    pools: dict[str, dict[str, float | int]] = {}
    for kind, model, value in _POOL_GAUGE.findall(metrics_text):
        pool = pools.setdefault(model, {})
        if kind == "max_rows":
            pool["max_rows"] = int(float(value))
        else:
            pool["kv_cache_gb"] = round(float(value) / 2**30, 3)
    return pools


def _triton_metrics(timeout: float = 1.0) -> str | None:
    url = f"http://127.0.0.1:{os.environ.get('TRITON_METRICS_PORT', '8002')}/metrics"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return str(response.read().decode("utf-8"))
    except OSError:
        return None


def gpu_info(metrics_text: str | None = None) -> dict[str, Any]:
    """The device, and (the contract's allocated/reserved) what the model processes' torch holds on it:
    each model is a process of its own, so this one's torch counters would say nothing. None when
    Triton's metrics cannot be read."""
    import torch

    if not torch.cuda.is_available():
        return {"cuda_available": False, "gpu": None}
    free, total = torch.cuda.mem_get_info(0)
    text = metrics_text if metrics_text is not None else _triton_metrics()
    held = models_gpu_memory(text) if text is not None else None
    return {
        "cuda_available": True,
        "gpu": {
            "name": torch.cuda.get_device_name(0),
            "device_count": torch.cuda.device_count(),
            "total_memory_gb": round(total / 2**30, 2),
            "allocated_memory_gb": None if held is None else round(held["allocated"] / 2**30, 2),
            "reserved_memory_gb": None if held is None else round(held["reserved"] / 2**30, 2),
            "used_memory_gb": round((total - free) / 2**30, 2),
        },
    }


def server_info(repository: Path) -> dict[str, Any]:
    """The GPU and every model; a loaded model also says its batch's rows and KV cache."""
    text = _triton_metrics()
    models = describe_repository(repository)
    for name, pool in (models_pools(text) if text is not None else {}).items():
        if name in models:
            models[name].update(pool)
    return {**gpu_info(text), "models": models}
