"""A CPU stand-in for CUDA graphs: record a step's aten ops once, replay them on the same memory.

`RecordingBackend.capture` runs the step under a dispatch mode that records every op with the very
tensors it read and wrote; `replay` re-runs those ops and writes each result into the tensor the
capture produced, so like a CUDA graph it reuses fixed memory and repeats the captured ops whatever
Python would do now. It refuses what a CUDA capture refuses or gets wrong:

- a value read on the host (`.item()`, `.tolist()`, `bool(t)`, any op that returns a Python scalar);
- an op whose output shape depends on the data (`nonzero`, `masked_select`, a boolean-mask index);
- a tensor made from host data inside the step (`torch.tensor(list)`).

A refused capture restores every tensor the step had written before the refusal (a CUDA capture
executes nothing), so the eager fallback runs on unchanged state. Each replay checks that every
tensor the capture read from outside is still at its address. Used by the tests and by
`benchmarks.gpu_check --device cpu` to exercise the graph path without a GPU.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

Outputs = Any
"""What a step returns (`graphs.Outputs`)."""


class GraphCaptureError(RuntimeError):
    """The step cannot be captured (it reads a value on the host, or its shapes depend on data)."""


_HOST_DATA = {torch.ops.aten.lift_fresh.default, torch.ops.aten.lift_fresh_copy.default}
_INDEXING = {torch.ops.aten.index.Tensor, torch.ops.aten.index_put.default, torch.ops.aten.index_put_.default}
"""Tagged data-dependent because a boolean mask makes them so; with integer indices their shapes
follow the indices' shapes (a CUDA graph captures them)."""


def _data_dependent(func: Any, args: tuple[Any, ...]) -> bool:
    if torch.Tag.dynamic_output_shape not in func.tags:
        return False
    if func in _INDEXING:
        return any(index.dtype in (torch.bool, torch.uint8) for index in _tensors(args[1]))
    return True


@dataclass(frozen=True)
class _Op:
    func: Any
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    outputs: tuple[torch.Tensor, ...]
    """The tensors the capture produced; a replay writes its results into them."""
    mutates: bool


def _tensors(value: Any) -> list[torch.Tensor]:
    return [leaf for leaf in tree_flatten(value)[0] if isinstance(leaf, torch.Tensor)]


def _written(func: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[torch.Tensor]:
    """The tensors an op writes in place (its schema's mutable arguments, `out=` included)."""
    written = []
    for position, argument in enumerate(func._schema.arguments):
        if argument.alias_info is None or not argument.alias_info.is_write:
            continue
        value = kwargs.get(argument.name, args[position] if position < len(args) else None)
        written += _tensors(value)
    return written


class _Recorder(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: list[_Op] = []
        self._made: set[int] = set()
        """ids of tensors produced during the capture (the rest came from outside)"""
        self.external: dict[int, tuple[torch.Tensor, int]] = {}
        self._saved: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple[Any, ...] = (), kwargs: Any = None) -> Any:
        kwargs = kwargs or {}
        if func in _HOST_DATA:
            raise GraphCaptureError(f"{func}: a tensor made from host data inside a captured step")
        if _data_dependent(func, args):
            raise GraphCaptureError(f"{func}: its output shape depends on the data")
        for tensor in _tensors((args, kwargs)):
            if id(tensor) not in self._made and id(tensor) not in self.external:
                self.external[id(tensor)] = (tensor, tensor.data_ptr())
        written = _written(func, args, kwargs)
        for tensor in written:
            if id(tensor) not in self._saved:  # its value before the step, to undo a refused capture
                self._saved[id(tensor)] = (tensor, tensor.detach().clone())
        result = func(*args, **kwargs)
        if isinstance(result, bool | int | float | complex):
            raise GraphCaptureError(f"{func}: reads a value on the host")
        outputs = tuple(_tensors(result))
        self._made.update(id(tensor) for tensor in outputs)
        if not func.is_view:  # a view aliases memory the replay already writes
            self.ops.append(_Op(func, args, kwargs, outputs, bool(written)))
        return result

    def undo(self) -> None:
        for tensor, before in reversed(self._saved.values()):
            tensor.copy_(before)


@contextmanager
def _no_host_reads() -> Iterator[None]:
    """`tolist()` and `numpy()` never reach the dispatcher: refuse them in the capturing thread."""
    thread = threading.get_ident()
    originals = {name: getattr(torch.Tensor, name) for name in ("tolist", "numpy")}

    def guard(name: str) -> Callable[..., Any]:
        def refuse(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == thread:
                raise GraphCaptureError(f"Tensor.{name}() reads values on the host inside a captured step")
            return originals[name](tensor, *args, **kwargs)

        return refuse

    for name in originals:
        setattr(torch.Tensor, name, guard(name))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)


class RecordedGraph:
    def __init__(self, ops: list[_Op], outputs: Outputs, external: dict[int, tuple[torch.Tensor, int]]) -> None:
        self.ops = ops
        self._outputs = outputs
        self._external = list(external.values())

    def replay(self) -> Outputs:
        for tensor, address in self._external:
            if tensor.data_ptr() != address:
                raise AssertionError(f"a static buffer {tuple(tensor.shape)} moved since the capture")
        for op in self.ops:
            result = op.func(*op.args, **op.kwargs)
            if op.mutates:
                continue
            fresh = _tensors(result)
            for target, value in zip(op.outputs, fresh, strict=True):
                if target.shape != value.shape:
                    shapes = f"{tuple(value.shape)} at replay, {tuple(target.shape)} captured"
                    raise AssertionError(f"{op.func}: shape {shapes}")
                target.copy_(value)
        return self._outputs


class RecordingBackend:
    name = "record"

    def __init__(self) -> None:
        self.graphs: list[RecordedGraph] = []

    def capture(self, step: Callable[[], Outputs]) -> tuple[RecordedGraph, Outputs]:
        recorder = _Recorder()
        try:
            with _no_host_reads(), recorder:
                outputs = step()
        except Exception:
            recorder.undo()
            raise
        graph = RecordedGraph(recorder.ops, outputs, recorder.external)
        self.graphs.append(graph)
        return graph, outputs
