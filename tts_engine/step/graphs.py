"""Step functions captured once per shape key and replayed: CUDA graphs, with eager as the fallback.

A step function here reads and writes only tensors allocated before it runs (the runner's static
buffers: state, caches) and returns tensors. `StepGraphs.run(key, step)` runs `step` eagerly the
first time a key is seen (that run is the warm-up: lazy initialisation, allocator growth), captures
it the second time and replays the capture from then on; the capture runs the step once, so every
call advances the state exactly once. Eager and graphed calls run the same `step`: one
implementation, captured or not.

What a capture bakes in: the ops, their shapes, and the addresses of every tensor they touch. So
the buffers the step reads must stay the same tensors (`buffers()`, checked before every replay: a
host-side comparison, no sync), and the step must not read a value on the host or branch on one
(a capture fails, or replays the branch it took). A capture that fails is logged once per key and
counted (`fallbacks`); that key then runs eagerly for good: never a crash. Backends: CUDA graphs
(`CudaGraphBackend`), and on the CPU a stand-in that records the ops and replays them
(`graph_record.RecordingBackend`, for tests and the CPU benchmark).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Protocol

import torch

from tts_engine.config import GRAPH_MODES
from tts_engine.step.graph_record import RecordingBackend

log = logging.getLogger(__name__)

Outputs = Any
"""What a step returns: a tensor, or a tuple/list of tensors (returned as is by every replay)."""


class Graph(Protocol):
    def replay(self) -> Outputs: ...


class GraphBackend(Protocol):
    name: str

    def capture(self, step: Callable[[], Outputs]) -> tuple[Graph, Outputs]:
        """Capture `step` and run it once (as a replay); the graph and that run's outputs."""
        ...


class CudaGraph:
    def __init__(self, graph: Any, outputs: Outputs) -> None:
        self._graph, self._outputs = graph, outputs

    def replay(self) -> Outputs:
        self._graph.replay()
        return self._outputs


_CAPTURING = threading.Lock()
"""One capture at a time in the process (the loop's steps and the codec thread's decoder): a
capture synchronises the device and empties the allocator's cache on entry."""


class CudaGraphBackend:
    """`torch.cuda.CUDAGraph`s sharing one memory pool: they replay one at a time on one stream
    (one backend per stream: the loop's, the codec's), so one graph's scratch memory may be
    another's; their outputs stay referenced."""

    name = "cuda"

    def __init__(self, device: torch.device) -> None:
        self._device = device
        self._pool: Any = None

    def capture(self, step: Callable[[], Outputs]) -> tuple[Graph, Outputs]:
        with _CAPTURING, torch.cuda.device(self._device):
            if self._pool is None:
                self._pool = torch.cuda.graph_pool_handle()
            graph = torch.cuda.CUDAGraph()
            # thread_local: the codec thread keeps using the device (its own stream) meanwhile
            with torch.cuda.graph(graph, pool=self._pool, capture_error_mode="thread_local"):
                outputs = step()
            captured = CudaGraph(graph, outputs)
            return captured, captured.replay()


def backend_for(mode: str, device: torch.device) -> GraphBackend | None:
    """The backend `QWEN_TTS_CUDA_GRAPHS=mode` gives on `device` (`auto`: CUDA graphs on a CUDA
    device), or None: every step eager. `record` (not a setting: tests and the CPU benchmark) is
    the CPU stand-in, on any device."""
    if mode == "record":
        return RecordingBackend()
    if mode not in GRAPH_MODES:
        raise ValueError(f"graph mode must be one of {GRAPH_MODES}, got {mode!r}")
    if mode == "auto" and device.type == "cuda":
        return CudaGraphBackend(device)
    return None


def _addresses(tensors: Sequence[torch.Tensor]) -> list[tuple[int, tuple[int, ...]]]:
    return [(t.data_ptr(), tuple(t.shape)) for t in tensors]


class StepGraphs:
    def __init__(
        self,
        backend: GraphBackend | None,
        *,
        name: str,
        buffers: Callable[[], Sequence[torch.Tensor]] = tuple,
        on_fallback: Callable[[str], None] | None = None,
    ) -> None:
        self._backend = backend
        self._name = name
        self._buffers = buffers
        self._on_fallback = on_fallback
        self._graphs: dict[Hashable, Graph] = {}
        self._seen: set[Hashable] = set()
        self._failed: set[Hashable] = set()
        self._addresses: list[tuple[int, tuple[int, ...]]] | None = None
        self.fallbacks = 0
        """Captures that failed (each key counts once), plus invalidations (see `_check_buffers`)."""
        self.replays = 0

    @property
    def enabled(self) -> bool:
        return self._backend is not None

    def captured(self) -> list[Hashable]:
        return list(self._graphs)

    def failed(self) -> list[Hashable]:
        return list(self._failed)

    def run(self, key: Hashable, step: Callable[[], Outputs]) -> Outputs:
        """`step()`'s outputs for this step, from its graph for `key` where there is one."""
        if self._backend is None or key in self._failed:
            return step()
        graph = self._graphs.get(key)
        if graph is not None and self._check_buffers():
            self.replays += 1
            return graph.replay()
        if key not in self._seen:
            self._seen.add(key)
            return step()  # the warm-up run; the next call with this key captures
        return self._capture(key, step)

    def _capture(self, key: Hashable, step: Callable[[], Outputs]) -> Outputs:
        assert self._backend is not None
        if self._addresses is None:
            self._addresses = _addresses(self._buffers())
        try:
            graph, outputs = self._backend.capture(step)
        except Exception as exc:
            # A failed CUDA capture has run nothing (captured kernels do not execute); the recorder
            # stops at the first op it refuses, before any state changes.
            self._failed.add(key)
            self._fallback(f"{self._name}: capturing {key!r} failed, running it eagerly: {type(exc).__name__}: {exc}")
            return step()
        self._graphs[key] = graph
        return outputs

    def _check_buffers(self) -> bool:
        """Every static buffer is still the tensor the graphs captured; if one was replaced, every
        graph reads stale memory: drop them all (they are captured again, against the new ones)."""
        current = _addresses(self._buffers())
        if current == self._addresses:
            return True
        self._graphs.clear()
        self._seen.clear()
        self._addresses = None
        self._fallback(f"{self._name}: a static buffer was reallocated; graphs dropped, captured again")
        return False

    def _fallback(self, message: str) -> None:
        log.warning(message)
        self.fallbacks += 1
        if self._on_fallback is not None:
            self._on_fallback(message)
