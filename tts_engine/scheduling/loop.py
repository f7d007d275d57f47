"""The background generation loop a decoupled Triton model hands its requests to.

`execute()` parses each request and `submit`s it with a `Sink`; it returns at once. A preparing
thread does what a request needs before it can start that takes longer than many steps
(`LoopRunner.prepare`: a voice-clone prompt encodes its reference audio), so that work never
stalls the rows being decoded. One thread owns the decoding: between steps it admits the
prepared requests into the running batch (continuous batching), so a request that arrives during
a long generation starts at the next step boundary once ready. Each sink receives audio chunks
(when the request asked to stream) and exactly one final call.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from tts_engine.clone.prompt import ClonePrompt
from tts_engine.requests import SynthesisRequest

log = logging.getLogger(__name__)

Outcome = np.ndarray | ClonePrompt | Exception


class LoopStoppedError(RuntimeError):
    """The loop thread is gone: the model cannot serve (answered as an `unhealthy` error)."""


class Sink:
    """Where one request's results go. `emit(outcome, final)`: audio chunks with final=False (only
    when streaming), then exactly one call with final=True (the rest of the audio, a prompt, or the
    error). Called from the loop thread."""

    def __init__(self, emit: Callable[[Outcome, bool], None], *, stream: bool = False) -> None:
        self._emit = emit
        self.stream = stream
        self.closed = False

    def chunk(self, audio: np.ndarray) -> None:
        if self.stream and not self.closed and audio.size:
            self._safe(audio, False)

    def finish(self, outcome: Outcome) -> None:
        if not self.closed:
            self.closed = True
            self._safe(outcome, True)

    def _safe(self, outcome: Outcome, final: bool) -> None:
        try:
            self._emit(outcome, final)
        except Exception:  # a client that went away must not stop the loop
            log.exception("sending a response failed")


@dataclass
class Submission:
    request: SynthesisRequest
    sink: Sink
    cancelled: Callable[[], bool] = field(default=lambda: False)
    """Polled between steps: True drops the row (the client cancelled or went away)."""
    prepared: Any = None
    """What `LoopRunner.prepare` made ready for `admit` (the runner's own)."""


class LoopRunner(ABC):
    """What runs submissions: the continuous step engine, or the grouped fallback. Only the loop
    thread calls it. `admit` and `step` answer each submission's sink themselves, errors included."""

    max_rows: int
    """Rows it holds at most: the batch's rows (the grouped runner: the requests of one group)."""
    frames_done: int = 0
    """Codec frames generated so far (for the metrics)."""

    def prepare(self, submission: Submission) -> Submission | None:
        """Called on the preparing thread, in arrival order, before the submission reaches the
        loop: work that needs no batch state. None when it answered the submission itself."""
        return submission

    @abstractmethod
    def admit(self, submissions: list[Submission]) -> None: ...
    @abstractmethod
    def step(self) -> None: ...
    @abstractmethod
    def active(self) -> int:
        """Rows being generated now (the grouped runner: requests waiting for the next group)."""

    def busy(self) -> bool:
        return self.active() > 0

    def capacity(self) -> int:
        """Rows that can be admitted now."""
        return self.max_rows - self.active()

    def close(self) -> None:  # noqa: B027 - optional hook: most runners hold nothing to release
        """Release helpers (threads) once the loop has stopped."""

    def graphs(self) -> tuple[int, int]:
        """(step shapes replayed from CUDA graphs now, graph captures that failed so far)."""
        return 0, 0


@dataclass(frozen=True)
class LoopStats:
    """What the loop reports after each step (exported as Triton custom metrics)."""

    active_rows: int
    """Rows left in the batch after the step."""
    frames: int
    """Codec frames the step produced."""
    waiting: int
    """Requests received but not yet in the batch: those being prepared, those that arrived during
    the step (admitted at the next one) and those waiting for a free row (the batch is full)."""
    step_seconds: float
    graphs_captured: int = 0
    graph_fallbacks: int = 0
    """So far, in the runner's life (the metrics count the increase)."""


class GenerationLoop:
    """A thread that feeds `runner` with submissions and steps it while it has work."""

    def __init__(
        self,
        runner: LoopRunner,
        *,
        name: str = "generation-loop",
        observe: Callable[[LoopStats], None] | None = None,
    ) -> None:
        self._runner = runner
        self._observe = observe
        self._arrivals: queue.Queue[Submission | None] = queue.Queue()
        self._inbox: queue.Queue[Submission | None] = queue.Queue()
        self._stopping = False
        self._preparing = threading.Thread(target=self._prepare, name=f"{name}-prepare", daemon=True)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._preparing.start()
        self._thread.start()

    def submit(self, submission: Submission) -> None:
        if self._stopping:
            submission.sink.finish(RuntimeError("the model is shutting down"))
            return
        if not self.alive():  # nobody would ever answer it
            submission.sink.finish(LoopStoppedError("the generation loop has stopped"))
            return
        self._arrivals.put(submission)

    def alive(self) -> bool:
        """Whether the loop threads run (they only end on close(), or if something escaped their guards)."""
        return self._thread.is_alive() and self._preparing.is_alive()

    def close(self, timeout: float = 30.0) -> None:
        self._stopping = True
        self._arrivals.put(None)  # passed on to the loop once everything before it is prepared
        self._preparing.join(timeout)
        self._thread.join(timeout)

    def _prepare(self) -> None:
        while True:
            submission = self._arrivals.get()
            if submission is None:
                self._inbox.put(None)
                return
            try:
                ready = self._runner.prepare(submission)
            except Exception as exc:  # the runner answers its own errors; this is a last guard
                log.exception("preparing a request failed")
                submission.sink.finish(RuntimeError(f"generation failed: {type(exc).__name__}"))
                continue
            if ready is not None:
                self._inbox.put(ready)

    def _take(self, block: bool) -> list[Submission]:
        taken: list[Submission] = []
        room = self._runner.capacity()
        while room > len(taken) or (block and not taken):
            try:
                item = self._inbox.get(block=block and not taken, timeout=None)
            except queue.Empty:
                break
            if item is None:
                self._stopping = True
                break
            taken.append(item)
        return taken

    def _run(self) -> None:
        pending: list[Submission] = []
        while True:
            busy = self._runner.busy()
            if not self._stopping:
                pending.extend(self._take(block=not busy and not pending))
            room = self._runner.capacity()
            if pending and room > 0:
                admitted, pending = _live(pending[:room]), pending[room:]
                if admitted:
                    self._guard(partial(self._runner.admit, admitted), admitted)
            if self._runner.busy():
                started, frames = time.perf_counter(), self._runner.frames_done
                self._guard(self._runner.step, [])
                self._report(self._runner.frames_done - frames, len(pending), time.perf_counter() - started)
            elif self._stopping and not pending:
                self._runner.close()
                return

    def _report(self, frames: int, pending: int, seconds: float) -> None:
        if self._observe is None:
            return
        captured, fallbacks = self._runner.graphs()
        waiting = pending + self._inbox.qsize() + self._arrivals.qsize()
        stats = LoopStats(self._runner.active(), frames, waiting, seconds, captured, fallbacks)
        try:
            self._observe(stats)
        except Exception:  # metrics must never stop generation
            log.exception("reporting loop statistics failed")

    def _guard(self, action: Callable[[], None], submissions: list[Submission]) -> None:
        try:
            action()
        except Exception as exc:  # the loop must survive anything one batch does
            log.exception("generation loop step failed")
            for submission in submissions:
                submission.sink.finish(RuntimeError(f"generation failed: {type(exc).__name__}"))


def _live(submissions: list[Submission]) -> list[Submission]:
    """Those still wanted: a request cancelled while it waited for a row is answered, not started."""
    live = []
    for submission in submissions:
        if submission.cancelled():
            submission.sink.finish(RuntimeError("cancelled"))
        else:
            live.append(submission)
    return live
