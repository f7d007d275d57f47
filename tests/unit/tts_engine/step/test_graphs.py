"""Step graphs on the CPU through the recording stand-in: a captured step replays the same ops on
the same memory, gives exactly the eager step's outputs, keeps every static buffer where it was,
and anything a CUDA capture would refuse falls back to eager (counted, logged, state untouched)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import pytest
import torch

from tts_engine.step.graph_record import RecordingBackend
from tts_engine.step.graphs import StepGraphs, backend_for

ROWS, WIDTH, VOCAB, POSITIONS = 8, 16, 32, 24


class ToyStep:
    """A decode step in miniature with the engine's habits: state preallocated, each row at its own
    position in a cache, a per-row draw from hashed noise, results written into an output buffer."""

    def __init__(self, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.weight = torch.randn(WIDTH, WIDTH, generator=g) / WIDTH**0.5
        self.head = torch.randn(VOCAB, WIDTH, generator=g)
        self.table = torch.randn(VOCAB, WIDTH, generator=g)
        self.hidden = torch.randn(ROWS, WIDTH, generator=g)
        self.cache = torch.zeros(ROWS, POSITIONS, WIDTH)
        self.length = torch.randint(0, 4, (ROWS,), generator=g)
        self.token = torch.zeros(ROWS, dtype=torch.int64)
        self.out = torch.zeros(ROWS, 2, dtype=torch.int64)

    def buffers(self) -> list[torch.Tensor]:
        return [self.hidden, self.cache, self.length, self.token, self.out]

    def step(self, rows: int) -> torch.Tensor:
        hidden, length = self.hidden[:rows], self.length[:rows]
        x = torch.nn.functional.embedding(self.token[:rows], self.table) + hidden
        self.cache[torch.arange(rows), length] = x
        span = torch.arange(POSITIONS)
        scores = torch.einsum("rd,rpd->rp", x, self.cache[:rows]) / WIDTH**0.5
        scores = scores.masked_fill(span > length.unsqueeze(1), -float("inf"))
        attended = torch.einsum("rp,rpd->rd", scores.softmax(-1), self.cache[:rows])
        hidden.copy_(torch.tanh(attended @ self.weight))
        logits = hidden @ self.head.t()
        top = torch.topk(logits, 8, dim=-1)
        noise = torch.sin((length.unsqueeze(1) * 31 + top.indices) * 12.9898).abs() + 1e-3  # hashed, not random
        token = top.indices.gather(1, torch.argmax(top.values.softmax(-1) / noise, -1, keepdim=True)).squeeze(1)
        self.token[:rows] = token
        self.length[:rows] += 1
        out = self.out[:rows]
        out[:, 0], out[:, 1] = token, length
        return out


def run_steps(toy: ToyStep, graphs: StepGraphs | None, schedule: list[int]) -> list[torch.Tensor]:
    results = []
    for rows in schedule:
        out = toy.step(rows) if graphs is None else graphs.run(rows, partial(toy.step, rows))
        results.append(out.clone())
    return results


SCHEDULE = [8, 8, 8, 4, 4, 8, 4, 4, 2, 8, 2, 2]


def graphs_for(toy: ToyStep, backend: RecordingBackend) -> StepGraphs:
    return StepGraphs(backend, name="toy", buffers=toy.buffers)


def test_replayed_steps_equal_eager_steps_and_buffers_stay_put() -> None:
    eager, graphed, backend = ToyStep(), ToyStep(), RecordingBackend()
    graphs = graphs_for(graphed, backend)
    addresses = [buffer.data_ptr() for buffer in graphed.buffers()]
    expected = run_steps(eager, None, SCHEDULE)
    outputs: dict[int, list[int]] = {}
    for rows, want in zip(SCHEDULE, expected, strict=True):
        out = graphs.run(rows, partial(graphed.step, rows))
        assert torch.equal(out, want)
        outputs.setdefault(rows, []).append(out.data_ptr())
    for left, right in zip(eager.buffers(), graphed.buffers(), strict=True):
        assert torch.equal(left, right)
    assert [buffer.data_ptr() for buffer in graphed.buffers()] == addresses
    assert all(len(set(pointers)) == 1 for pointers in outputs.values()), "a key's outputs live at one address"
    assert set(graphs.captured()) == {2, 4, 8} and graphs.fallbacks == 0
    assert graphs.replays == len(SCHEDULE) - 6  # per key: one warm-up run, one capture, then replays
    assert all(graph.ops for graph in backend.graphs)


def test_a_replay_repeats_the_captured_ops_not_the_python() -> None:
    """What makes graphs dangerous: Python that picks ops from host state not in the key is frozen
    at capture. The comparison with eager steps catches it."""
    toy, backend = ToyStep(), RecordingBackend()
    graphs = graphs_for(toy, backend)
    scale = [1.0]

    def step() -> torch.Tensor:
        toy.hidden.mul_(scale[0])
        return toy.hidden

    graphs.run("k", step)
    graphs.run("k", step)  # captured with scale 1
    scale[0] = 2.0
    before = toy.hidden.clone()
    assert torch.equal(graphs.run("k", step), before), "the replay kept the captured multiplier"


HOST_READS: dict[str, Callable[[ToyStep], object]] = {
    "item": lambda toy: toy.length.sum().item(),
    "tolist": lambda toy: toy.token.tolist(),
    "bool": lambda toy: bool(toy.length.max() > 100),
    "nonzero": lambda toy: torch.nonzero(toy.length),
    "boolean mask": lambda toy: toy.hidden[toy.length > 1],
    "host tensor": lambda toy: toy.length + torch.tensor([1] * ROWS),
}


@pytest.mark.parametrize("read", HOST_READS.values(), ids=list(HOST_READS))
def test_a_step_a_capture_refuses_falls_back_to_eager_once(read: Callable[[ToyStep], object], caplog) -> None:
    eager, toy = ToyStep(), ToyStep()
    reported: list[str] = []
    graphs = StepGraphs(RecordingBackend(), name="toy", buffers=toy.buffers, on_fallback=reported.append)

    def step(target: ToyStep) -> torch.Tensor:
        out = target.step(4)
        read(target)
        return out

    with caplog.at_level(logging.WARNING):
        for _ in range(4):
            assert torch.equal(graphs.run(4, lambda: step(toy)), step(eager))
    # the refused capture undid what it had written: the state advanced once per step, as eager
    assert all(torch.equal(a, b) for a, b in zip(eager.buffers(), toy.buffers(), strict=True))
    assert graphs.fallbacks == 1 and graphs.failed() == [4] and not graphs.captured()
    assert len(reported) == 1 and "capturing 4 failed, running it eagerly" in reported[0]
    assert len([r for r in caplog.records if "running it eagerly" in r.getMessage()]) == 1


def test_a_replaced_buffer_drops_the_graphs_and_they_are_captured_again() -> None:
    eager, toy = ToyStep(), ToyStep()
    graphs = graphs_for(toy, RecordingBackend())
    for index, rows in enumerate(SCHEDULE):
        if index == 5:  # a runner that rebinds a buffer instead of writing into it
            toy.hidden, eager.hidden = toy.hidden.clone(), eager.hidden.clone()
        assert torch.equal(graphs.run(rows, partial(toy.step, rows)), eager.step(rows))
    assert graphs.fallbacks == 1
    assert set(graphs.captured()) == {2, 4, 8}


def test_eager_everywhere_but_a_cuda_device_in_auto_mode() -> None:
    assert backend_for("auto", torch.device("cpu")) is None
    assert backend_for("off", torch.device("cuda", 0)) is None
    assert backend_for("auto", torch.device("cuda", 0)) is not None
    with pytest.raises(ValueError, match="graph mode"):
        backend_for("on", torch.device("cpu"))
    toy = ToyStep()
    graphs = StepGraphs(None, name="toy")
    assert not graphs.enabled
    assert torch.equal(graphs.run(8, lambda: toy.step(8)), ToyStep().step(8)) and not graphs.captured()
