"""Typed configuration of one Triton TTS model instance, parsed once in `initialize()`.

Sources, later ones winning: the defaults of `EngineConfig`'s settings, the model's `config.pbtxt`
parameters, then environment variables (what docker-compose and Helm set). Misconfiguration
raises `ConfigError` so Triton refuses to load the model instead of failing on the first request.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import Field, dataclass, field, fields
from typing import Any

from tts_contract.models import HUB_IDS, SIZES, Variant, triton_model_name


class ConfigError(ValueError):
    """The model's configuration is invalid: the model must not load."""


__all__ = [
    "HUB_IDS",
    "SETTINGS",
    "SIZES",
    "ConfigError",
    "EngineConfig",
    "Variant",
    "chunk_schedule",
    "default_parameters",
    "parse_engine_config",
    "rows_for_device",
    "triton_model_name",
]


ENGINES = ("continuous", "grouped")
GRAPH_MODES = ("auto", "off")
SWITCHES = ("on", "off")
DTYPES = ("auto", "float32", "bfloat16", "float16")
SAMPLERS = ("counter", "reference")


def setting(default: str | int | None, env: str, *, low: int = 0, high: int = 0, choices: tuple[str, ...] = ()) -> Any:
    """A tunable field of `EngineConfig`: the config.pbtxt parameter of the field's name, overridden
    by the environment variable `env`; an empty value counts as unset. An int default makes it an
    integer in [low, high]; `choices` limits a string. The default is written here and nowhere else
    (`scripts/gen_model_repository.py` writes it into every config.pbtxt)."""
    return field(default=default, metadata={"env": env, "low": low, "high": high, "choices": choices})


@dataclass(frozen=True)
class EngineConfig:
    model_name: str
    variant: Variant
    size: str
    weights: str
    """Hub id or local directory, as given to `Qwen3TTSModel.from_pretrained`."""
    device: str = setting("auto", "QWEN_TTS_DEVICE")
    """`cpu`, `cuda`, `cuda:N`; `auto` is resolved by the loader."""
    dtype: str = setting("auto", "QWEN_TTS_DTYPE", choices=DTYPES)
    """`float32`, `bfloat16`, `float16`; `auto` is bf16 on a GPU and fp32 on the CPU."""
    attn_implementation: str | None = setting(None, "QWEN_TTS_ATTN_IMPLEMENTATION")
    engine: str = setting("continuous", "QWEN_TTS_ENGINE", choices=ENGINES)
    """`continuous`: the step-level loop (rows join and leave the running batch at each decoding
    step, per-row sampling); `grouped`: whole batches through the package's `generate_*`, one call
    per group of equal sampling settings (the fallback)."""
    max_batch_rows: int = setting(0, "QWEN_TTS_MAX_BATCH_ROWS", low=0, high=1024)
    """Rows decoded together at most; further requests wait for a row to finish. 0: 64 on a GPU,
    32 on the CPU (`rows_for_device`)."""
    stream_chunk_frames: int = setting(8, "QWEN_TTS_STREAM_CHUNK_FRAMES", low=1, high=1000)
    """Codec frames (80 ms each) per streamed audio chunk, once the first chunks are out."""
    stream_first_chunks: str = setting("2,4", "QWEN_TTS_STREAM_FIRST_CHUNKS")
    """Frames of a stream's first chunks, comma-separated (`none`: none): the first audio goes out
    after 2 frames, then 4, then every `stream_chunk_frames` (`chunk_schedule`)."""
    sampler: str = setting("counter", "QWEN_TTS_SAMPLER", choices=SAMPLERS)
    """Continuous engine: `counter` (seeded noise hashed from the row's seed and the draw's place,
    static shapes, one device read per step) or `reference` (per-row torch generators: the
    package's own codes for a seed, on the CPU; host syncs every step)."""
    max_positions: int = setting(4096, "QWEN_TTS_MAX_POSITIONS", low=64, high=1 << 20)
    """Continuous engine, counter sampler: positions per row of the KV cache allocated at load
    (prompt plus frames; a row stops there). Per row and position: layers x 2 x kv heads x head dim
    x 2 bytes in bf16 (1.7B: 112 KiB; 64 rows x 4096 positions: 29 GiB)."""
    codec_graphs: str = setting("off", "QWEN_TTS_CODEC_GRAPHS", choices=GRAPH_MODES)
    """Continuous engine on a GPU: `auto` captures the codec's decoder per (rows, frames) bucket
    (up to 32 rows and 256 frames) and replays it; off by default until measured on a GPU
    (`benchmarks/gpu_check.py` compares both)."""
    codec_process: str = setting("off", "QWEN_TTS_CODEC_PROCESS", choices=SWITCHES)
    """Continuous engine: `on` decodes audio in two child processes (one per codec lane) that load
    only the speech tokenizer, so the codec's Python no longer takes turns with the generation
    loop's at one interpreter lock (`codec/remote.py`). On the 2-core CPU: +9% throughput at
    concurrency 32 and 7 ms less for a short request beside long ones (README, Benchmark). Off by
    default: each child takes a few seconds to start and holds its own codec (on the CPU about
    0.5 GiB of memory each) and, on a GPU, a CUDA context of its own, where what it pays is not
    measured yet (`benchmarks/gpu_check.py --codec-process on`)."""
    kv_cache_mib: int = setting(0, "QWEN_TTS_KV_CACHE_MIB", low=0, high=1 << 24)
    """Continuous engine, counter sampler: the most this model's KV cache may take (MiB; 0: no
    bound). Several models on one GPU each get their share: the batch keeps the rows of
    `QWEN_TTS_MAX_POSITIONS` positions that fit (fewer than `QWEN_TTS_MAX_BATCH_ROWS` if need be;
    further requests wait for a free row); a bound too small for one row stops the model loading."""
    max_frames_per_text_token: int = setting(25, "QWEN_TTS_MAX_FRAMES_PER_TEXT_TOKEN", low=0, high=1000)
    """Continuous engine: a row stops after 100 + this many frames per token of its text, even
    before max_new_tokens (real models sometimes never sample EOS and would speak noise up to the
    limit). 25 frames (2 s) per token is several times any real speech rate; 0 turns it off."""
    cuda_graphs: str = setting("auto", "QWEN_TTS_CUDA_GRAPHS", choices=GRAPH_MODES)
    """Continuous engine, counter sampler, on a GPU: `auto` captures the step's two parts as CUDA
    graphs (every row bucket at load, other shapes at their second use) and replays them (a capture
    that fails runs eagerly, logged and counted in `qwen_tts_engine_cuda_graph_fallbacks_total`);
    `off` runs every step eagerly. The CPU is eager."""


def chunk_schedule(config: EngineConfig) -> tuple[int, ...]:
    """Frames of a stream's chunks: the first ones, then `stream_chunk_frames` for the rest."""
    first = config.stream_first_chunks.strip()
    sizes = () if first == "none" else tuple(int(part) for part in first.split(","))
    return (*sizes, config.stream_chunk_frames)


def rows_for_device(config: EngineConfig, device: str) -> int:
    """The batch's rows: `max_batch_rows`, or when 0, 64 on a GPU and 32 on the CPU."""
    if config.max_batch_rows:
        return config.max_batch_rows
    return 64 if device.startswith("cuda") else 32


SETTINGS: tuple[Field[Any], ...] = tuple(f for f in fields(EngineConfig) if "env" in f.metadata)
"""The tunable fields of `EngineConfig`, each with its parameter name, variable and bounds."""


def default_parameters() -> dict[str, str]:
    """The config.pbtxt parameters of every setting that has a default, at that default."""
    return {f.name: str(f.default) for f in SETTINGS if f.default is not None}


def _setting(model: str, spec: Field[Any], params: Mapping[str, str], env: Mapping[str, str]) -> Any:
    """One setting's value: its variable if set, else its parameter if set, else its default."""
    var = spec.metadata["env"]
    key, raw = (var, env[var]) if env.get(var) else (spec.name, params.get(spec.name) or None)
    if raw is None:
        return spec.default
    choices, low, high = spec.metadata["choices"], spec.metadata["low"], spec.metadata["high"]
    if choices and raw not in choices:
        raise ConfigError(f"model {model}: {key} must be one of {', '.join(choices)}, got {raw!r}")
    if not isinstance(spec.default, int):
        return raw
    try:
        value = int(raw)
    except ValueError as exc:
        raise ConfigError(f"model {model}: {key} must be an integer, got {raw!r}") from exc
    if not low <= value <= high:
        raise ConfigError(f"model {model}: {key} must be between {low} and {high}, got {value}")
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
    settings: dict[str, Any] = {spec.name: _setting(name, spec, params, env) for spec in SETTINGS}
    config = EngineConfig(
        model_name=name, variant=variant, size=size, weights=resolve_weights(name, hub_id, env), **settings
    )
    try:
        schedule = chunk_schedule(config)
    except ValueError:
        schedule = (0,)
    if not all(1 <= frames <= 1000 for frames in schedule):
        raise ConfigError(
            f"model {name}: stream_first_chunks must be frame counts (1-1000) like 2,4 or none,"
            f" got {config.stream_first_chunks!r}"
        )
    return config
