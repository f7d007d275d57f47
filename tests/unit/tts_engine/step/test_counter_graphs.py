"""The counter engine's step functions through the graph path (the CPU stand-in that records and
replays, `graph_record`) on a model with the real 1.7B depth: every step's codes and the active rows'
state equal the eager engine's while rows join and leave, every buffer keeps its address, nothing
falls back, and the warm-up captures each row bucket so that the first requests already replay."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.unit.tts_engine.step.counting import real_depth_talker
from tests.unit.tts_engine.step.test_step_counts import DEFAULTS, MIXED, starts
from tts_engine.step.counter_batch import CounterBatch
from tts_engine.step.graph_record import RecordingBackend
from tts_engine.step.graphs import backend_for


@pytest.fixture(scope="module")
def talker() -> Any:
    torch.set_grad_enabled(False)
    return real_depth_talker(torch.bfloat16)


def state(batch: CounterBatch) -> list[torch.Tensor]:
    """Every buffer's part that belongs to the active rows (the graphed batch also steps the idle
    slots of its row bucket; the eager one runs at the exact row count and leaves them alone)."""
    active, slots = len(batch._lengths), batch.max_rows
    state = batch.state
    parts = [t[:active] if t.dim() and t.shape[0] == slots else t for t in (*state.tensors(), state.out)]
    return [t.clone() for t in (*parts, state.texts.pool, batch.cache.kv[:, :active], batch.scratch[:, :active])]


def test_graphed_steps_equal_eager_steps_as_rows_join_and_leave(talker: Any) -> None:
    eager = CounterBatch(talker, max_rows=8, positions=128)
    graphed = CounterBatch(talker, max_rows=8, positions=128, graphs=RecordingBackend())
    addresses = [buffer.data_ptr() for buffer in graphed._buffers()]
    rows = starts(talker, 7, MIXED)
    plan: list[tuple[str, Any]] = [
        ("admit", rows[0:2]), ("steps", 3), ("admit", rows[2:5]), ("steps", 3), ("remove", [1]), ("steps", 3),
        ("admit", rows[5:7]), ("steps", 2), ("remove", [0, 3]), ("steps", 3),
    ]  # fmt: skip
    for action, value in plan:
        for batch in (eager, graphed):
            if action == "admit":
                batch.admit(value)
            elif action == "remove":
                batch.remove(value)
        for _ in range(value if action == "steps" else 0):
            assert graphed.step() == eager.step()
    assert all(torch.equal(a, b) for a, b in zip(state(eager), state(graphed), strict=True))
    assert [buffer.data_ptr() for buffer in graphed._buffers()] == addresses
    graphs = graphed.graphs
    assert graphs.fallbacks == 0 and graphs.replays >= 6
    kinds = {key[0] for key in graphs.captured()}
    assert kinds == {"predictor", "talker"}, "the code predictor's frame and the talker's step, each its graph"


def test_the_warm_up_captures_every_row_bucket_and_the_first_steps_replay(talker: Any) -> None:
    backend = RecordingBackend()
    graphed = CounterBatch(talker, max_rows=4, positions=128, graphs=backend)
    graphed.warm_up(*DEFAULTS)
    captured = graphed.graphs.captured()
    assert sorted(key[1] for key in captured if key[0] == "talker") == [1, 2, 4]
    assert sorted(key[1] for key in captured if key[0] == "predictor") == [1, 2, 4]
    eager = CounterBatch(talker, max_rows=4, positions=128)
    rows = starts(talker, 3, [DEFAULTS])
    for batch in (eager, graphed):
        batch.admit(rows)
    replays = graphed.graphs.replays
    for _ in range(2):
        assert graphed.step() == eager.step()
    assert graphed.graphs.replays == replays + 4, "both parts of both steps replayed: nothing captured late"


def test_graphs_are_off_on_the_cpu_and_with_the_reference_engine(talker: Any) -> None:
    assert backend_for("auto", torch.device("cpu")) is None
    batch = CounterBatch(talker, max_rows=4, positions=128, graphs=None)
    batch.warm_up(*DEFAULTS)
    assert not batch.graphs.enabled and not batch.graphs.captured()
