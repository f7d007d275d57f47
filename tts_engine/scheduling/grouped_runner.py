"""The fallback runner: whole batches through the package's own `generate_*`, grouped by settings.

Requests that arrive while a batch runs wait for it to end (no continuous batching). Kept behind
`QWEN_TTS_ENGINE=grouped` as a reference and an escape hatch.
"""

from __future__ import annotations

import numpy as np

from tts_engine.scheduling.engine import Engine
from tts_engine.scheduling.loop import LoopRunner, Submission

SAMPLES_PER_FRAME = 1920
"""24 kHz audio per 12.5 Hz codec frame."""


class GroupedRunner(LoopRunner):
    def __init__(self, engine: Engine, max_rows: int) -> None:
        self._engine = engine
        self.max_rows = max_rows
        self._waiting: list[Submission] = []

    def active(self) -> int:
        return len(self._waiting)

    def admit(self, submissions: list[Submission]) -> None:
        self._waiting.extend(submissions)

    def step(self) -> None:
        batch, self._waiting = self._waiting, []
        live = [s for s in batch if not s.cancelled()]
        for dropped in (s for s in batch if s.cancelled()):
            dropped.sink.finish(RuntimeError("cancelled"))
        try:
            outcomes = self._engine.run_parsed([s.request for s in live])
        except Exception as exc:
            outcomes = [RuntimeError(f"generation failed: {type(exc).__name__}")] * len(live)
        for submission, outcome in zip(live, outcomes, strict=True):
            if isinstance(outcome, np.ndarray):
                self.frames_done += outcome.size // SAMPLES_PER_FRAME
            submission.sink.finish(outcome)
