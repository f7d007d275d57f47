"""Each row's random noise for a whole decoding step, drawn ahead of the step that uses it.

A sampled token is `argmax(probs / noise)` with `noise ~ Exp(1)` from the row's own generator
(`torch.multinomial`'s algorithm for one sample). A row's draws within one step always come in
the same order (the code predictor's groups, then the talker's next token) and do not depend on
the probabilities, and `exponential_` consumes the generator element by element, so one call per
row per step gives exactly the values the separate draws would (tested). That makes the noise
independent of the step's computation: while step k runs, a background thread already draws every
row's noise for step k + 1 (on the CPU it is the largest single cost of a step). A row that joins
the batch gets its first step's noise drawn on the spot; a row that leaves wastes one step's draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import torch

from tts_engine.step.sampling import RowSampling


@dataclass(frozen=True)
class StepNoise:
    values: torch.Tensor
    """[B, (groups - 1) x predictor_vocab + talker_vocab]"""
    predictor_vocab: int
    groups: int

    def predictor(self, group: int) -> torch.Tensor:
        return self.values[:, group * self.predictor_vocab : (group + 1) * self.predictor_vocab]

    def talker(self) -> torch.Tensor:
        return self.values[:, (self.groups - 1) * self.predictor_vocab :]


@dataclass(frozen=True)
class NoiseRow:
    key: int
    """Identifies the row across steps (its position in the batch can change)."""
    predictor: RowSampling
    talker: RowSampling
    generator: torch.Generator


class NoiseSource:
    def __init__(self, *, groups: int, predictor_vocab: int, talker_vocab: int, device: torch.device, ahead: bool):
        self._groups, self._pv, self._tv, self._device = groups, predictor_vocab, talker_vocab, device
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="noise") if ahead else None
        self._ahead: Future[dict[int, torch.Tensor]] | None = None

    @property
    def width(self) -> int:
        return (self._groups - 1) * self._pv + self._tv

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _row(self, row: NoiseRow) -> torch.Tensor:
        """One row's noise for one step, in its draw order (predictor groups, then the talker)."""
        split = (self._groups - 1) * self._pv
        values = torch.zeros(self.width, device=self._device)
        begin = 0 if row.predictor.do_sample else split
        end = self.width if row.talker.do_sample else split
        if begin < end:
            values[begin:end].exponential_(1, generator=row.generator)
        return values

    def _rows(self, rows: Sequence[NoiseRow]) -> dict[int, torch.Tensor]:
        return {row.key: self._row(row) for row in rows}

    def take(self, rows: Sequence[NoiseRow]) -> StepNoise:
        """This step's noise for `rows`: drawn ahead where it was, now for rows new to the batch."""
        ready = self._ahead.result() if self._ahead is not None else {}
        self._ahead = None
        values = torch.stack([ready[row.key] if row.key in ready else self._row(row) for row in rows])
        return StepNoise(values, self._pv, self._groups)

    def draw_ahead(self, rows: Sequence[NoiseRow]) -> None:
        """Start drawing the next step's noise for `rows` (their generators are not used meanwhile)."""
        if self._pool is None or not rows:
            return
        self._ahead = self._pool.submit(self._rows, list(rows))


def single_draw(generator: torch.Generator, vocab: int, device: torch.device) -> torch.Tensor:
    """One row's noise for one draw (the first token after a row's prefill)."""
    return torch.empty(1, vocab, device=device).exponential_(1, generator=generator)
