"""Pick the runner a model's generation loop drives, from its config."""

from __future__ import annotations

from tts_engine.config import EngineConfig
from tts_engine.scheduling.engine import Engine
from tts_engine.scheduling.grouped_runner import GroupedRunner
from tts_engine.scheduling.loop import LoopRunner


def build_runner(engine: Engine, config: EngineConfig) -> LoopRunner:
    if config.engine == "grouped":
        return GroupedRunner(engine, config.max_batch_rows)
    from tts_engine.scheduling.step_runner import StepRunner  # torch-heavy: imported only when used

    return StepRunner(
        engine,
        max_rows=config.max_batch_rows,
        chunk_frames=config.stream_chunk_frames,
        frames_per_text_token=config.max_frames_per_text_token,
    )
