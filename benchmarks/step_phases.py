"""Milliseconds per decoding step split into talker, code predictor and sampling, at fixed batch sizes.

A runner of its own (not the served loop) is given `rows` long requests and stepped directly: a
few steps to warm up, `steps` timed ones, then as many again with probes around the step's parts.
A probe synchronises the device before and after its part and counts its own time only (a part
inside another is subtracted from it), so on a GPU the probed steps are serialised and add up to a
little more than `total_ms`, the same steps timed without probes; `other_ms` is what the probes
do not cover (bookkeeping, the host read). Counter engine: `predictor` is the code predictor's
whole frame, `talker` the talker's step, `sampling` the 16 draws and the talker's logits
processing; where a part is a captured graph it is timed as the replay, and the draws inside it
cannot be told apart (`sampling_ms` is then None: they are counted in the graph's part).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch

from benchmarks.engine_load import make_request, reference_clip
from tts_engine.config import Variant
from tts_engine.scheduling.loop import LoopRunner, Sink, Submission

Sync = Callable[[], None]
Phase = Callable[..., str]
"""The phase a probed call belongs to, from its arguments."""


def probe_points(runner: Any) -> list[tuple[Any, str, Phase]]:
    """(object, attribute, phase) of the step's parts in this runner's engine."""
    from tts_engine.scheduling import step_runner
    from tts_engine.step import counter_step

    batch = getattr(runner, "_batch", None)
    graphs = getattr(batch, "graphs", None)
    if graphs is not None:  # the counter engine: each part runs through `graphs.run(key, step)`
        parts = [(graphs, "run", lambda key, step: str(key[0]))]
        if graphs.enabled:  # the draws are inside the graphs (a step not yet captured would split them)
            return parts
        return [
            *parts,
            (counter_step, "draw", lambda *a, **k: "sampling"),
            (counter_step, "talker_scores", lambda *a, **k: "sampling"),
        ]
    ops = getattr(batch, "_ops", None) or getattr(runner, "_ops", None)
    if ops is None:
        return []
    return [  # the reference engine: the package's modules
        (ops, "predict_codes", lambda *a, **k: "predictor"),
        (ops, "decode", lambda *a, **k: "talker"),
        (ops, "process", lambda *a, **k: "sampling"),
        (step_runner, "sample", lambda *a, **k: "sampling"),
    ]


@contextmanager
def probes(runner: Any, sync: Sync, spent: dict[str, float] | None = None) -> Iterator[dict[str, float]]:
    """Time the step's parts into `spent` (a new dict unless given: the probed steps may be several)."""
    spent = {} if spent is None else spent
    inner: list[float] = []  # time spent in probes nested in the current one
    originals = []
    for owner, name, phase in probe_points(runner):
        original = getattr(owner, name)
        originals.append((owner, name, original, name in vars(owner)))

        def timed(*args: Any, _original: Any = original, _phase: Phase = phase, **kwargs: Any) -> Any:
            sync()
            inner.append(0.0)
            started = time.perf_counter()
            result = _original(*args, **kwargs)
            sync()
            elapsed = time.perf_counter() - started
            nested = inner.pop()
            key = _phase(*args, **kwargs)
            spent[key] = spent.get(key, 0.0) + elapsed - nested
            if inner:
                inner[-1] += elapsed
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


def _timed_steps(runner: LoopRunner, steps: int, sync: Sync, refill: Callable[[], None], probed: Any = None) -> float:
    """Seconds per step over `steps` steps, each after `refill` (untimed and unprobed); with `probed`
    (a dict), each step runs inside the probes, which add their parts' times to it."""
    total = 0.0
    for _ in range(steps):
        refill()
        with probes(runner, sync, probed) if probed is not None else nullcontext():
            sync()
            started = time.perf_counter()
            runner.step()
            sync()
            total += time.perf_counter() - started
    return total / steps


def profile(runner: LoopRunner, variant: Variant, rows: int, steps: int, device: torch.device) -> dict[str, Any]:
    """One batch size: `rows` rows stepped `steps` times (after 3 warm-up steps), timed by part.
    Random weights sample EOS at random: a row that ends is replaced before the next step, so every
    step runs at `rows` rows."""
    sync, cancelled = device_sync(device), [False]
    reference = reference_clip()
    made = [0]

    def refill() -> None:
        missing = rows - runner.active()
        if missing > 0:
            lengths = (3 * steps + 64,)
            runner.admit(
                [
                    Submission(make_request(variant, made[0] + i, lengths, reference), Sink(lambda o, f: None),
                               lambda: cancelled[0])
                    for i in range(missing)
                ]
            )  # fmt: skip
            made[0] += missing

    _timed_steps(runner, 3, sync, refill)
    total = _timed_steps(runner, steps, sync, refill)
    spent: dict[str, float] = {}
    probed = _timed_steps(runner, steps, sync, refill, spent)
    cancelled[0] = True
    while runner.busy():  # cancelled rows leave within a few steps
        runner.step()
    parts = {phase: 1000 * seconds / steps for phase, seconds in spent.items()}
    result: dict[str, Any] = {"rows": rows, "total_ms": round(1000 * total, 3)}
    for phase in ("talker", "predictor", "sampling"):
        result[f"{phase}_ms"] = round(parts[phase], 3) if phase in parts else None
    result["other_ms"] = round(1000 * probed - sum(parts.values()), 3) if parts else None
    return result
