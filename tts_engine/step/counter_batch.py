"""The default batch: counter-based sampling, state and caches preallocated, one read per step.

Host-side it keeps only what decides shapes: each slot's length (for the attention span) and
sampling settings (for the sampler plans). Everything a step computes stays on the device until
its one read: the rows' codes and next tokens (`out`). A step is two step functions (`counter_step`):
the code predictor's whole frame, keyed by (rows, predictor plan), and the talker's step, keyed
by (rows, span, talker plan); with a graph backend (`step.graphs`) each key is captured once and
replayed, and `warm_up` captures every row bucket when the model loads. Without a graph backend
(eager, the CPU default) a step runs at its exact row count: nothing to capture, so no padding.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import torch

from tts_engine.step.batch import RowStart, compact
from tts_engine.step.counter_model import CounterModel
from tts_engine.step.counter_noise import row_key
from tts_engine.step.counter_sampling import SamplerPlan, plan_for
from tts_engine.step.counter_step import StepShape, predictor_step, prefill, talker_step
from tts_engine.step.graphs import GraphBackend, StepGraphs
from tts_engine.step.rows import NewRow, RowState
from tts_engine.step.sampling import RowSampling
from tts_engine.step.static_cache import MIN_SPAN, ROW_BUCKETS, StaticCache, rows_for, span_for

CPU_CANDIDATE_GROUPS = 4
"""Ids per candidate group on the CPU (measured on the 2-core CPU: 4 beat 8 and 16; a sort of the
W best of 512 group maxima, then of 4 W scores, costs about 0.65 of one over 2048)."""


class CounterBatch:
    def __init__(
        self,
        talker: Any,
        *,
        max_rows: int,
        positions: int,
        graphs: GraphBackend | None = None,
        candidate_groups: int | None = None,
    ) -> None:
        """`candidate_groups`: the samplers' candidate search (`counter_sampling.candidates`); by
        default grouped on the CPU (CPU_CANDIDATE_GROUPS), one `topk` elsewhere."""
        self.model = model = CounterModel(talker, positions=positions)
        cpu = model.device.type == "cpu"
        self.candidate_groups = (CPU_CANDIDATE_GROUPS if cpu else 0) if candidate_groups is None else candidate_groups
        self.groups, self.eos, self.max_rows = model.groups, model.eos, max_rows
        stack, predictor = model.talker, model.predictor
        self.state = RowState(
            rows=max_rows,
            groups=model.groups,
            vocab=model.vocab,
            predictor_vocab=model.predictor_vocab,
            hidden=stack.hidden,
            column=stack.norm_column,
            dtype=model.dtype,
            device=model.device,
        )
        self.cache = StaticCache(
            layers=len(stack.layers),
            rows=max_rows,
            kv_heads=stack.kv_heads,
            head_dim=stack.head_dim,
            positions=positions,
            dtype=model.dtype,
            device=model.device,
        )
        scratch = (len(predictor.layers), max_rows, 2 * predictor.kv_heads, model.groups, predictor.head_dim)
        self.scratch = torch.zeros(scratch, dtype=model.dtype, device=model.device)
        self._lengths: list[int] = []
        self._settings: list[RowStart] = []
        self.graphs = StepGraphs(graphs, name="counter step", buffers=self._buffers)

    def _buffers(self) -> list[torch.Tensor]:
        """Every tensor a step reads or writes that outlives it (a captured step holds their addresses)."""
        state = self.state
        return [*state.tensors(), state.out, state.texts.pool, self.cache.kv, self.scratch]

    def _plan(self, settings: list[RowSampling], vocab: int) -> SamplerPlan:
        return plan_for(settings, vocab, groups=self.candidate_groups)

    def room(self, prefix_tokens: int) -> int:
        return max(self.model.positions - prefix_tokens, 0)

    def shape(self) -> StepShape:
        """What the host knows about the next step, and all that fixes its ops."""
        active = len(self._lengths)
        # Buckets exist for graph capture; run eagerly (the CPU), a padded row is pure cost
        rows = rows_for(active, self.max_rows) if self.graphs.enabled else active
        return StepShape(
            rows=rows,
            span=span_for(max(self._lengths) + 1, self.model.positions),
            talker=self._plan([row.talker for row in self._settings], self.model.vocab),
            predictor=self._plan([row.predictor for row in self._settings], self.model.predictor_vocab),
        )

    @torch.no_grad()
    def admit(self, rows: list[RowStart]) -> None:
        if not rows:
            return
        new = [
            NewRow(
                owner=row.serial,
                key=row_key(row.seed),
                talker=row.talker,
                predictor=row.predictor,
                length=row.prefix.embeds.shape[1],
                text=row.prefix.trailing_text[: row.max_frames],
            )
            for row in rows
        ]
        if not self._settings:
            self.state.texts.set_pad(rows[0].prefix.pad)
        slots = self.state.admit(new)
        lengths = [row.length for row in new]
        embeds = torch.nn.utils.rnn.pad_sequence([row.prefix.embeds[0] for row in rows], batch_first=True)
        plan = self._plan([row.talker for row in rows], self.model.vocab)
        prefill(self.model, self.state, self.cache, slots, embeds, lengths, plan)
        self._lengths += lengths
        self._settings += rows

    @torch.no_grad()
    def step(self) -> list[list[int]]:
        if not self._lengths:  # nothing to step (eagerly a step of 0 rows has no shape to run at)
            return []
        out = self._run(self.shape())
        values: list[list[int]] = out[: len(self._lengths)].tolist()  # the step's one device-to-host read
        self._lengths = [length + 1 for length in self._lengths]
        return values

    def _run(self, shape: StepShape) -> torch.Tensor:
        model, state = self.model, self.state
        predictor = ("predictor", shape.rows, shape.predictor)
        self.graphs.run(predictor, partial(predictor_step, model, state, self.scratch, shape))
        talker = ("talker", shape.rows, shape.span, shape.talker)
        return self.graphs.run(talker, partial(talker_step, model, state, self.cache, shape))

    @torch.no_grad()
    def warm_up(self, talker: RowSampling, predictor: RowSampling) -> None:
        """Capture both step functions at every row bucket, shortest span, these settings' plans
        (the defaults'), on the idle slots (whatever a step writes there, admission overwrites).
        Other spans and plans are captured at their second use."""
        if not self.graphs.enabled or self._lengths:
            return
        talker_plan = self._plan([talker], self.model.vocab)
        predictor_plan = self._plan([predictor], self.model.predictor_vocab)
        buckets = sorted({min(bucket, self.max_rows) for bucket in ROW_BUCKETS})
        for rows in buckets:
            shape = StepShape(rows, min(MIN_SPAN, self.model.positions), talker_plan, predictor_plan)
            for _ in range(2):  # the first run warms up, the second captures (and replays)
                self._run(shape)

    def remove(self, slots: list[int]) -> None:
        moved = [self._lengths[source] for source, _ in compact(list(self._lengths), slots)]
        compact(self._lengths, slots)
        compact(self._settings, slots)
        moves = self.state.remove(slots)
        if moves:
            span = span_for(max(moved), self.model.positions)
            device = self.cache.kv.device
            sources = torch.tensor([s for s, _ in moves], device=device)
            targets = torch.tensor([t for _, t in moves], device=device)
            self.cache.move(sources, targets, span)

    def reset(self) -> None:
        self.remove(list(range(len(self._lengths))))

    def close(self) -> None:
        """Nothing to release but memory."""
