"""Pick the runner a model's generation loop drives, from its config."""

from __future__ import annotations

from tts_engine.config import EngineConfig, chunk_schedule
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
        codec_graphs=config.codec_graphs,
    )
