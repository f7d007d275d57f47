"""Milliseconds per decoding step split into talker, code predictor and sampling, at fixed batch sizes.

A runner of its own (not the served loop) is given `rows` long requests and stepped directly: a
few steps to warm up, then `steps` timed ones with probes around the step's parts. A probe
synchronises the device before and after its part (on a GPU that serialises the step, so the
parts add up to a little more than a step of the load runs; `total_ms` is the same steps timed
without probes). What remains of a step beyond the probed parts is `other_ms` (frame input,
bookkeeping). A part that runs inside a captured graph is timed as the graph's replay.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch

from benchmarks.engine_load import make_request, reference_clip
from tts_engine.config import Variant
from tts_engine.scheduling.loop import LoopRunner, Sink, Submission

Sync = Callable[[], None]


def probe_points(runner: Any) -> list[tuple[Any, str, str]]:
    """(object, attribute, phase) of the step's parts in this engine."""
    from tts_engine.scheduling import step_runner

    ops = getattr(runner, "_ops", None)
    if ops is None:
        return []
    return [
        (ops, "predict_codes", "predictor"),  # the code predictor's 15 sub-steps, their draws included
        (ops, "decode", "talker"),
        (ops, "process", "sampling"),  # repetition penalty and token masks
        (step_runner, "sample", "sampling"),  # the talker's draw
    ]


@contextmanager
def probes(runner: Any, sync: Sync) -> Iterator[dict[str, float]]:
    spent: dict[str, float] = {}
    originals = []
    for owner, name, phase in probe_points(runner):
        original = getattr(owner, name)
        originals.append((owner, name, original, name in vars(owner)))

        def timed(*args: Any, _original: Any = original, _phase: str = phase, **kwargs: Any) -> Any:
            sync()
            started = time.perf_counter()
            result = _original(*args, **kwargs)
            sync()
            spent[_phase] = spent.get(_phase, 0.0) + time.perf_counter() - started
            return result

        setattr(owner, name, timed)
    try:
        yield spent
    finally:
        for owner, name, original, own in originals:
            if own:
                setattr(owner, name, original)
            else:
                delattr(owner, name)


def device_sync(device: torch.device) -> Sync:
    return (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)


def profile(runner: LoopRunner, variant: Variant, rows: int, steps: int, device: torch.device) -> dict[str, Any]:
    """One batch size: `rows` rows stepped `steps` times (after 3 warm-up steps), timed by part."""
    sync, cancelled = device_sync(device), [False]
    reference = reference_clip()
    submissions = [
        Submission(make_request(variant, i, (steps + 64,), reference), Sink(lambda o, f: None), lambda: cancelled[0])
        for i in range(rows)
    ]
    runner.admit(submissions)
    for _ in range(3):
        runner.step()
    sync()
    started = time.perf_counter()
    for _ in range(steps):
        runner.step()
    sync()
    total = (time.perf_counter() - started) / steps
    with probes(runner, sync) as spent:
        started = time.perf_counter()
        for _ in range(steps):
            runner.step()
        probed = (time.perf_counter() - started) / steps
    cancelled[0] = True
    while runner.busy():  # cancelled rows leave within a few steps
        runner.step()
    parts = {phase: 1000 * seconds / steps for phase, seconds in spent.items()}
    result: dict[str, Any] = {"rows": rows, "total_ms": round(1000 * total, 3)}
    for phase in ("talker", "predictor", "sampling"):
        result[f"{phase}_ms"] = round(parts.get(phase, 0.0), 3) if parts else None
    result["other_ms"] = round(1000 * probed - sum(parts.values()), 3) if parts else None
    return result
