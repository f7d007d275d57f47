"""Typed configuration of one Triton TTS model instance, parsed once in `initialize()`.

Sources, later ones winning: the model's `config.pbtxt` parameters, then environment variables
(what docker-compose and Helm set). Misconfiguration raises `ConfigError` so Triton refuses to
load the model instead of failing on the first request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tts_contract.models import HUB_IDS, SIZES, Variant, triton_model_name


class ConfigError(ValueError):
    """The model's configuration is invalid: the model must not load."""


__all__ = ["HUB_IDS", "SIZES", "ConfigError", "EngineConfig", "Variant", "parse_engine_config", "triton_model_name"]


@dataclass(frozen=True)
class EngineConfig:
    model_name: str
    variant: Variant
    size: str
    weights: str
    """Hub id or local directory, as given to `Qwen3TTSModel.from_pretrained`."""
    device: str
    """`cpu`, `cuda`, `cuda:N`; `auto` is resolved by the loader."""
    dtype: str
    """`float32`, `bfloat16`, `float16`; `auto` is bf16 on a GPU and fp32 on the CPU."""
    attn_implementation: str | None = None
    engine: str = "continuous"
    """`continuous`: the step-level loop (rows join and leave the running batch at each decoding
    step, per-row sampling); `grouped`: whole batches through the package's `generate_*`, one call
    per group of equal sampling settings (the fallback)."""
    max_batch_rows: int = 32
    """Rows decoded together at most; further requests wait for a row to finish."""
    stream_chunk_frames: int = 8
    """Codec frames (80 ms each) per streamed audio chunk."""
    max_frames_per_text_token: int = 25
    """Continuous engine: a row stops after 100 + this many frames per token of its text, even
    before max_new_tokens (real models sometimes never sample EOS and would speak noise up to the
    limit). 25 frames (2 s) per token is several times any real speech rate; 0 turns it off."""


ENGINES = ("continuous", "grouped")


def _positive_int(name: str, key: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"model {name}: {key} must be an integer, got {raw!r}") from exc
    if not low <= value <= high:
        raise ConfigError(f"model {name}: {key} must be between {low} and {high}, got {value}")
    return value


def _params(model_config: Mapping[str, Any]) -> dict[str, str]:
    raw = model_config.get("parameters", {}) or {}
    return {key: str(value.get("string_value", "")) for key, value in raw.items()}


def _env_key(model_name: str) -> str:
    return model_name.upper()


def resolve_weights(model_name: str, hub_id: str, env: Mapping[str, str]) -> str:
    """Where the weights come from: per-model override, then a local root, then the hub id.

    - `QWEN_TTS_WEIGHTS_<MODEL_NAME>`: a hub id or a directory for this model alone.
    - `QWEN_TTS_WEIGHTS_DIR`: a directory holding folders named like the hub ids' last part
      (`Qwen3-TTS-12Hz-1.7B-CustomVoice`); used when the folder exists.
    - otherwise the hub id from `config.pbtxt` (downloaded into the Hugging Face cache).
    """
    override = env.get(f"QWEN_TTS_WEIGHTS_{_env_key(model_name)}", "").strip()
    if override:
        return override
    root = env.get("QWEN_TTS_WEIGHTS_DIR", "").strip()
    if root:
        candidate = os.path.join(root, hub_id.rsplit("/", 1)[-1])
        if os.path.isdir(candidate):
            return candidate
    return hub_id


def parse_engine_config(model_config_json: str, env: Mapping[str, str] | None = None) -> EngineConfig:
    """Build the typed config from Triton's `args["model_config"]` JSON and the environment."""
    env = os.environ if env is None else env
    model_config = json.loads(model_config_json)
    params = _params(model_config)
    name = str(model_config.get("name", ""))
    try:
        variant = Variant(params.get("variant", ""))
    except ValueError as exc:
        raise ConfigError(f"model {name}: parameter 'variant' must be one of {[v.value for v in Variant]}") from exc
    size = params.get("model_size", "")
    if (size, variant) not in HUB_IDS:
        raise ConfigError(f"model {name}: no upstream Qwen3-TTS {variant.value} model of size {size!r}")
    hub_id = params.get("hub_id") or HUB_IDS[(size, variant)]
    device = env.get("QWEN_TTS_DEVICE") or params.get("device") or "auto"
    dtype = env.get("QWEN_TTS_DTYPE") or params.get("dtype") or "auto"
    if dtype not in ("auto", "float32", "bfloat16", "float16"):
        raise ConfigError(f"model {name}: dtype {dtype!r} is not one of auto, float32, bfloat16, float16")
    attn = env.get("QWEN_TTS_ATTN_IMPLEMENTATION") or params.get("attn_implementation") or None
    engine = env.get("QWEN_TTS_ENGINE") or params.get("engine") or "continuous"
    if engine not in ENGINES:
        raise ConfigError(f"model {name}: engine {engine!r} is not one of {', '.join(ENGINES)}")
    rows = env.get("QWEN_TTS_MAX_BATCH_ROWS") or params.get("max_batch_rows") or "32"
    chunk = env.get("QWEN_TTS_STREAM_CHUNK_FRAMES") or params.get("stream_chunk_frames") or "8"
    per_token = env.get("QWEN_TTS_MAX_FRAMES_PER_TEXT_TOKEN") or params.get("max_frames_per_text_token") or "25"
    return EngineConfig(
        model_name=name,
        variant=variant,
        size=size,
        weights=resolve_weights(name, hub_id, env),
        device=device,
        dtype=dtype,
        attn_implementation=attn,
        engine=engine,
        max_batch_rows=_positive_int(name, "max_batch_rows", rows, 1, 1024),
        stream_chunk_frames=_positive_int(name, "stream_chunk_frames", chunk, 1, 1000),
        max_frames_per_text_token=_positive_int(name, "max_frames_per_text_token", per_token, 0, 1000),
    )
