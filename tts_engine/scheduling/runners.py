"""Pick the runner a model's generation loop drives, from its config."""

from __future__ import annotations

from typing import Any

from tts_engine.config import ConfigError, EngineConfig, chunk_schedule
from tts_engine.scheduling.engine import Engine
from tts_engine.scheduling.grouped_runner import GroupedRunner
from tts_engine.scheduling.loop import LoopRunner


def build_runner(engine: Engine, config: EngineConfig, rows: int) -> LoopRunner:
    """`rows`: `config.rows_for_device` of the model's device."""
    if config.engine == "grouped":
        return GroupedRunner(engine, rows)
    from tts_engine.scheduling.step_runner import StepRunner  # torch-heavy: imported only when used

    return StepRunner(
        engine,
        max_rows=rows,
        chunk_schedule=chunk_schedule(config),
        frames_per_text_token=config.max_frames_per_text_token,
        sampler=config.sampler,
        max_positions=config.max_positions,
        graphs=config.cuda_graphs,
        codec_graphs=config.codec_graphs,
        codec_process=config.codec_process == "on",
        release_package_weights=True,  # serving never runs the package's forward
    )


def kv_row_bytes(tts: Any, config: EngineConfig) -> int:
    """Bytes of KV cache one row takes in the counter engine: QWEN_TTS_MAX_POSITIONS positions of
    every talker layer's keys and values (the code predictor's scratch is a few frames: ignored)."""
    talker = tts.model.talker
    model = talker.model.config
    head_dim = getattr(model, "head_dim", None) or model.hidden_size // model.num_attention_heads
    per_position = len(talker.model.layers) * 2 * model.num_key_value_heads * head_dim * talker.dtype.itemsize
    return per_position * config.max_positions


def pool_rows(tts: Any, config: EngineConfig, rows: int) -> tuple[int, int]:
    """(rows, KV cache bytes) of this model's pool: `rows`, fewer if QWEN_TTS_KV_CACHE_MIB holds
    fewer; bytes 0 where nothing is preallocated (the grouped engine, the reference sampler)."""
    if config.engine != "continuous" or config.sampler != "counter":
        return rows, 0
    per_row = kv_row_bytes(tts, config)
    if config.kv_cache_mib:
        fit = config.kv_cache_mib * 2**20 // per_row
        if fit < 1:
            raise ConfigError(
                f"model {config.model_name}: QWEN_TTS_KV_CACHE_MIB={config.kv_cache_mib} holds no row of"
                f" QWEN_TTS_MAX_POSITIONS={config.max_positions} ({per_row / 2**20:.0f} MiB a row)"
            )
        rows = min(rows, fit)
    return rows, rows * per_row
