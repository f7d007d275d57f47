"""What one decoding step costs the host, counted on a model with the real 1.7B depth (28 talker
layers, 5 code-predictor layers, 16 code groups; tiny widths, bf16): the counter engine reads the
device once per step, runs the same ops at 8 rows as at 64, at least 3x fewer than the reference
engine (the package's modules, per-row generators), and compiles as one graph."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.unit.tts_engine.step.counting import as_tts, count_call, real_depth_talker
from tts_engine.step.batch import RowStart
from tts_engine.step.counter_batch import CounterBatch
from tts_engine.step.counter_step import frame_step
from tts_engine.step.prefix import Prefix
from tts_engine.step.reference_batch import ReferenceBatch
from tts_engine.step.sampling import RowSampling

DEFAULTS = (RowSampling(True, 0.9, 50, 1.0, 1.05), RowSampling(True, 0.9, 50, 1.0))
MIXED = [
    DEFAULTS,
    (RowSampling(False, 0.9, 50, 1.0, 1.05), DEFAULTS[1]),
    (RowSampling(True, 0.6, 0, 0.8, 1.3), DEFAULTS[1]),
    (RowSampling(True, 1.2, 500, 0.95, 1.0), DEFAULTS[1]),
]


@pytest.fixture(scope="module")
def talker() -> Any:
    torch.set_grad_enabled(False)
    return real_depth_talker(torch.bfloat16)


def starts(talker: Any, count: int, settings: list[tuple[RowSampling, RowSampling]]) -> list[RowStart]:
    hidden, dtype = talker.config.hidden_size, next(talker.parameters()).dtype
    generator = torch.Generator().manual_seed(count)
    rows = []
    for i in range(count):
        prefix = Prefix(
            embeds=torch.randn(1, 12 + i % 7, hidden, generator=generator).to(dtype),
            trailing_text=torch.randn(6, hidden, generator=generator).to(dtype),
            pad=torch.zeros(hidden, dtype=dtype),
        )
        talker_sampling, predictor_sampling = settings[i % len(settings)]
        rows.append(RowStart(i, prefix, talker_sampling, predictor_sampling, seed=100 + i, max_frames=50))
    return rows


def counted_step(batch: Any, rows: list[RowStart]) -> Any:
    batch.admit(rows)
    batch.step()  # warm: the first step may build things once
    count = count_call(batch.step)
    batch.close()
    return count


@pytest.mark.parametrize("settings", [[DEFAULTS], MIXED], ids=["uniform", "mixed"])
def test_a_step_reads_the_device_once_and_costs_the_same_at_8_and_64_rows(talker: Any, settings: Any) -> None:
    counts = [
        counted_step(CounterBatch(talker, max_rows=64, positions=256), starts(talker, rows, settings))
        for rows in (8, 64)
    ]
    for count in counts:
        assert count.total_syncs == 1 and count.syncs["tolist"] == 1, count.syncs
    assert counts[0].ops == counts[1].ops


def test_a_step_runs_at_least_3x_fewer_ops_than_the_reference_engine(talker: Any) -> None:
    """Counted for the step a GPU runs (one `topk` per draw: candidate_groups=0)."""
    rows = starts(talker, 8, [DEFAULTS])
    ours = counted_step(CounterBatch(talker, max_rows=64, positions=256, candidate_groups=0), rows)
    reference = counted_step(ReferenceBatch(as_tts(talker), max_rows=64), rows)
    assert reference.total_syncs >= 5  # what this replaces: host-built tensors and reads every step
    assert reference.total_ops >= 3 * ours.total_ops, (reference.total_ops, ours.total_ops)


def test_the_cpu_candidate_groups_cost_6_ops_a_draw_and_change_no_code(talker: Any) -> None:
    """The CPU's grouped candidate search (counter_sampling.candidates) adds a fixed 5 ops to each of
    the 16 draws of a step, whatever the rows, and draws the same codes as one `topk` per draw."""
    rows = starts(talker, 8, [DEFAULTS])
    plain = counted_step(CounterBatch(talker, max_rows=64, positions=256, candidate_groups=0), rows)
    grouped = counted_step(CounterBatch(talker, max_rows=64, positions=256, candidate_groups=4), rows)
    assert grouped.total_ops - plain.total_ops == 5 * 16
    small = real_depth_talker(torch.float32)  # float32 logits: no ties for a sort to order differently
    batches = [CounterBatch(small, max_rows=8, positions=128, candidate_groups=g) for g in (0, 4)]
    for batch in batches:
        batch.admit(starts(small, 6, MIXED))
    for _ in range(5):
        assert batches[0].step() == batches[1].step()


def test_the_frame_step_compiles_as_one_graph(talker: Any) -> None:
    """The code predictor's whole frame (15 draws) and the talker's step, with sampling, traced by
    torch.compile without a graph break (no data-dependent Python branch, no host read), and
    computing what the eager step computes."""
    small = real_depth_talker(torch.float32)
    batches = [CounterBatch(small, max_rows=8, positions=128) for _ in range(2)]
    hidden = small.config.hidden_size
    for batch in batches:
        batch.admit(
            [
                RowStart(
                    i,
                    Prefix(torch.ones(1, 5 + i, hidden) * i / 10, torch.ones(4, hidden), torch.zeros(hidden)),
                    *s,
                    7 + i,
                    20,
                )
                for i, s in enumerate(MIXED)
            ]
        )
    compiled = torch.compile(frame_step, fullgraph=True, backend="aot_eager")
    eager, graph = batches
    expected = frame_step(eager.model, eager.state, eager.cache, eager.scratch, eager.shape())
    got = compiled(graph.model, graph.state, graph.cache, graph.scratch, graph.shape())
    assert torch.equal(got[:4], expected[:4])
