"""The package-exact batch (`QWEN_TTS_SAMPLER=reference`): a seeded row's codes equal the package's
own `generate_*` with `torch.manual_seed(seed)`, on the CPU.

Every row has its own torch generator, consumed in the package's order (its Exp(1) noise for a
whole step drawn ahead by `NoiseSource`), and runs through the package's own modules (`TalkerOps`)
with a growing `SlotCache`; each arrival is prefilled alone, as the package computes it. Kept for
the tests that compare with the package and as a fallback; it needs host syncs every step and its
draws cannot match the package on a GPU (see the README).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from tts_engine.step.batch import RowStart, compact
from tts_engine.step.cache import INITIAL_CACHE_TOKENS
from tts_engine.step.model import TalkerOps
from tts_engine.step.noise import NoiseRow, NoiseSource, single_draw
from tts_engine.step.prefix import Prefix
from tts_engine.step.sampling import RowSampling, sample


@dataclass
class _Row:
    serial: int
    prefix: Prefix
    talker: RowSampling
    predictor: RowSampling
    generator: torch.Generator
    seen: torch.Tensor
    past_hidden: torch.Tensor
    pending: int
    sampled: int = 1
    frames: int = 0


class ReferenceBatch:
    def __init__(self, tts: Any, *, max_rows: int) -> None:
        self._ops = ops = TalkerOps(tts)
        self.groups, self.eos = ops.groups, ops.eos
        self._max_rows = max_rows
        self._cache = ops.new_cache(max_rows)
        self._rows: list[_Row] = []
        self._noise = NoiseSource(
            groups=ops.groups,
            predictor_vocab=ops.predictor_vocab,
            talker_vocab=ops.vocab,
            device=ops.device,
            ahead=ops.device.type == "cpu",
        )

    @property
    def cache_capacity(self) -> int:
        return self._cache.capacity

    def room(self, prefix_tokens: int) -> int:
        return 2**31  # the cache grows

    @torch.no_grad()
    def admit(self, rows: list[RowStart]) -> None:
        for row in rows:  # one by one: the package's own prefill, batch of one
            self._rows.append(self._start(row))

    def _start(self, start: RowStart) -> _Row:
        ops = self._ops
        generator = torch.Generator(device=ops.device).manual_seed(start.seed)
        cache, hidden, logits = ops.prefill(start.prefix.embeds)
        seen = torch.zeros(ops.vocab, dtype=torch.bool, device=ops.device)
        scores = ops.process(logits, seen.unsqueeze(0), [start.talker], [0])
        # a greedy talker draws nothing: the generator stays where the package's would be
        noise = single_draw(generator, ops.vocab, ops.device) if start.talker.do_sample else scores
        first = int(sample(scores, [start.talker], noise)[0])
        seen[first] = True
        self._cache.add(cache)
        return _Row(start.serial, start.prefix, start.talker, start.predictor, generator, seen, hidden, first)

    @torch.no_grad()
    def step(self) -> list[list[int]]:
        rows, ops = self._rows, self._ops
        first = torch.tensor([row.pending for row in rows], device=ops.device)
        noise_rows = [NoiseRow(row.serial, row.predictor, row.talker, row.generator) for row in rows]
        noise = self._noise.take(noise_rows)
        # the next step's noise is drawn while this step computes (rows that finish now waste theirs)
        self._noise.draw_ahead(noise_rows)
        rest = ops.predict_codes(
            torch.cat([row.past_hidden for row in rows]), first, [row.predictor for row in rows], noise
        )
        text = torch.stack([_text_at(row) for row in rows])
        hidden, logits = ops.decode(ops.frame_input(first, rest, text), self._cache)
        seen = torch.stack([row.seen for row in rows])
        scores = ops.process(logits, seen, [row.talker for row in rows], [row.sampled for row in rows])
        tokens = sample(scores, [row.talker for row in rows], noise.talker())
        values: list[list[int]] = torch.cat([first.unsqueeze(1), rest, tokens.unsqueeze(1)], 1).tolist()
        for index, (row, row_values) in enumerate(zip(rows, values, strict=True)):
            token = row_values[-1]
            row.past_hidden = hidden[index : index + 1]
            row.sampled += 1
            row.frames += 1
            row.seen[token] = True
            row.pending = token
        return values

    def remove(self, slots: list[int]) -> None:
        for slot in sorted(slots, reverse=True):  # the cache compacts by `compact`'s rule too
            self._cache.remove(slot)
        compact(self._rows, slots)
        if not self._rows and self._cache.capacity > INITIAL_CACHE_TOKENS:
            # the cache grew for a long row: give the memory back once the batch is empty
            self._cache = self._ops.new_cache(self._max_rows)

    def reset(self) -> None:
        self._rows = []
        self._cache = self._ops.new_cache(self._max_rows)

    def close(self) -> None:
        self._noise.close()


def _text_at(row: _Row) -> torch.Tensor:
    trailing = row.prefix.trailing_text
    return trailing[row.frames] if row.frames < trailing.shape[0] else row.prefix.pad
