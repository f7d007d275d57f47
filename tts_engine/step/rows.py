"""Per-row state of the running batch, in tensors preallocated on the model's device.

Slot i of every tensor belongs to the row in slot i; the batch is compact (slots 0..n-1), and a
step runs on the first n slots (eagerly) or `rows_for(n)` (a captured graph's row bucket), so
slots past n are idle rows whose results nobody reads. A step reads and updates this state with
tensor ops only (no host value enters it, none leaves it but `out`); the host writes it between
steps, when rows join (`admit`) and leave (`move`, `clear`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from tts_engine.step.batch import compact
from tts_engine.step.counter_sampling import RowSettings, settings_row
from tts_engine.step.sampling import RowSampling
from tts_engine.step.text_pool import TextPool


@dataclass(frozen=True)
class NewRow:
    owner: int
    """The row's serial number (keys its text span)."""
    key: tuple[int, int]
    """`counter_noise.row_key` of its seed."""
    talker: RowSampling
    predictor: RowSampling
    length: int
    """Tokens of its prefix."""
    text: torch.Tensor
    """[T, D] trailing text embeddings (the frames it can use at most)."""


def _settings(rows: int, device: torch.device) -> RowSettings:
    return RowSettings(
        do_sample=torch.zeros(rows, dtype=torch.bool, device=device),
        temperature=torch.ones(rows, device=device),
        kth=torch.zeros(rows, dtype=torch.int64, device=device),
        top_p_limit=torch.zeros(rows, device=device),
        penalty=torch.ones(rows, device=device),
    )


class RowState:
    def __init__(
        self,
        *,
        rows: int,
        groups: int,
        vocab: int,
        predictor_vocab: int,
        hidden: int,
        column: float,
        dtype: torch.dtype,
        device: torch.device,
    ) -> None:
        def longs(*shape: int) -> torch.Tensor:
            return torch.zeros(*shape, dtype=torch.int64, device=device)

        self.vocab, self.predictor_vocab = vocab, predictor_vocab
        self.pending = longs(rows)
        """codebook 0 of each row's next frame"""
        self.hidden = torch.zeros(rows, hidden, dtype=dtype, device=device)
        """the talker's last hidden state, normalised without the norm's weight (the code
        predictor's first input)"""
        self.counters = longs(rows, 2)
        """(length: the next token's position, frame: frames made so far)"""
        self.active = longs(rows)
        """1 for a slot that holds a row: the counters advance by it (idle slots stay in range)"""
        self.keys = longs(rows, 2)
        self.text = longs(rows, 2)
        """(start in the text pool, count)"""
        self.seen = torch.zeros(rows, vocab, dtype=torch.bool, device=device)
        self.talker = _settings(rows, device)
        self.predictor = _settings(rows, device)
        self.out = longs(rows, groups + 1)
        """a step's result: each row's frame [G] and its next codebook-0 token"""
        self.texts = TextPool(rows=rows, hidden=hidden, column=column, dtype=dtype, device=device)
        self.owners: list[int] = []
        """the owner of each occupied slot, in slot order"""
        self._packed = 0

    @property
    def length(self) -> torch.Tensor:
        return self.counters[:, 0]

    @property
    def frame(self) -> torch.Tensor:
        return self.counters[:, 1]

    def admit(self, rows: list[NewRow]) -> range:
        """Write new rows into the slots after the occupied ones (between steps); their slots."""
        first = len(self.owners)
        slots = range(first, first + len(rows))
        for row in rows:
            self.texts.add(row.owner, row.text)
        self.owners += [row.owner for row in rows]
        ints = [[row.length, 0, 1, *row.key, self.texts.start_of(row.owner), row.text.shape[0]] for row in rows]
        values = torch.tensor(ints, dtype=torch.int64).to(self.counters.device)
        self.counters[slots.start : slots.stop] = values[:, :2]
        self.active[slots.start : slots.stop] = values[:, 2]
        self.keys[slots.start : slots.stop] = values[:, 3:5]
        self.text[slots.start : slots.stop] = values[:, 5:7]
        self.seen[slots.start : slots.stop] = False
        for target, vocab, pick in ((self.talker, self.vocab, 0), (self.predictor, self.predictor_vocab, 1)):
            columns = list(zip(*(settings_row((row.talker, row.predictor)[pick], vocab) for row in rows), strict=True))
            for tensor, column in zip(target.fields(), columns, strict=True):
                tensor[slots.start : slots.stop] = torch.tensor(column, dtype=tensor.dtype).to(tensor.device)
        if self.texts.packed != self._packed:  # spans moved: every row's start changes
            self._packed = self.texts.packed
            starts = [self.texts.start_of(owner) for owner in self.owners]
            self.text[: len(starts), 0] = torch.tensor(starts, dtype=torch.int64).to(self.text.device)
        return slots

    def tensors(self) -> list[torch.Tensor]:
        """Every per-slot tensor (moved together when a row changes slot)."""
        return [
            self.pending, self.hidden, self.counters, self.active, self.keys, self.text, self.seen,
            *self.talker.fields(), *self.predictor.fields(),
        ]  # fmt: skip

    def remove(self, slots: list[int]) -> list[tuple[int, int]]:
        """Free `slots` (`batch.compact`'s rule: the last rows move into the holes). Returns the
        moves as (source, target) pairs applied at once, for the caller's own per-slot data."""
        for slot in slots:
            self.texts.remove(self.owners[slot])
        moves = _collapse(compact(self.owners, slots))
        if moves:
            sources = torch.tensor([s for s, _ in moves], device=self.pending.device)
            targets = torch.tensor([t for _, t in moves], device=self.pending.device)
            for tensor in self.tensors():
                tensor[targets] = tensor[sources]
        # idle slots still run inside a step's row bucket: nothing advances (their positions stay
        # inside the cache) and they sample greedily with k = 1 (a departed row's k may exceed the
        # next plans' candidate width)
        idle = slice(len(self.owners), None)
        self.active[idle] = 0
        self.counters[idle] = 0
        for settings in (self.talker, self.predictor):
            settings.kth[idle] = 0
            settings.do_sample[idle] = False
        return moves


def _collapse(moves: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sequential moves as one simultaneous move per final target (a row can move twice: into a
    hole, then, as the new last row, into another)."""
    final: dict[int, int] = {}
    for source, target in moves:
        origin = final.pop(source, source)
        final[target] = origin
    return [(source, target) for target, source in final.items()]
