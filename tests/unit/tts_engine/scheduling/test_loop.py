"""The loop thread: admission up to capacity, stepping, one final response per request, survival."""

import threading
import time

import numpy as np
import pytest

from tts_engine.requests import SynthesisRequest
from tts_engine.scheduling.loop import (
    GenerationLoop,
    LoopRunner,
    LoopStats,
    LoopStoppedError,
    Outcome,
    Sink,
    Submission,
)


class CountdownRunner(LoopRunner):
    """Each row needs `len(text)` steps; a text 'boom' makes admission fail for that row."""

    def __init__(self, rows: int) -> None:
        self.rows: list[list] = []
        self.max_rows = rows
        self.peak = 0

    def active(self) -> int:
        return len(self.rows)

    def admit(self, submissions: list[Submission]) -> None:
        for s in submissions:
            if s.request.text == "boom":
                raise RuntimeError("admission failed")
            self.rows.append([s, len(s.request.text)])
        self.peak = max(self.peak, len(self.rows))

    def step(self) -> None:
        time.sleep(0.001)
        for row in self.rows:
            row[1] -= 1
            self.frames_done += 1
            row[0].sink.chunk(np.ones(2, np.float32))
        for row in [r for r in self.rows if r[1] <= 0]:
            row[0].sink.finish(np.zeros(1, np.float32))
            self.rows.remove(row)


def test_every_request_gets_exactly_one_final_and_capacity_is_respected() -> None:
    runner = CountdownRunner(rows=3)
    observed: list[LoopStats] = []
    loop = GenerationLoop(runner, observe=observed.append)
    finals: dict[int, list[Outcome]] = {}
    chunks: dict[int, int] = {}
    done = threading.Event()
    lock = threading.Lock()

    def emit(i: int, outcome: Outcome, final: bool) -> None:
        with lock:
            if final:
                finals.setdefault(i, []).append(outcome)
                if len(finals) == 10:
                    done.set()
            else:
                chunks[i] = chunks.get(i, 0) + 1

    for i in range(10):
        text = "boom" if i == 4 else "x" * (i + 1)
        loop.submit(
            Submission(
                SynthesisRequest(text=text, language="auto"), Sink(lambda o, f, i=i: emit(i, o, f), stream=i == 2)
            )
        )
    assert done.wait(10)
    loop.close()
    assert all(len(v) == 1 for v in finals.values())
    assert isinstance(finals[4][0], RuntimeError)
    assert runner.peak <= 3
    assert chunks == {2: 3}  # only the streaming request gets chunks, one per step
    assert observed and max(s.active_rows for s in observed) == 3
    assert any(s.waiting > 0 for s in observed)  # 10 requests, 3 rows: the rest waited
    assert all(s.step_seconds > 0 for s in observed)
    assert sum(s.frames for s in observed) == sum(i + 1 for i in range(10) if i != 4)


def test_submissions_after_close_are_refused() -> None:
    loop = GenerationLoop(CountdownRunner(rows=1))
    loop.close()
    got: list[Outcome] = []
    loop.submit(Submission(SynthesisRequest(text="x", language="auto"), Sink(lambda o, f: got.append(o))))
    assert isinstance(got[0], RuntimeError)


class Finals(dict[str, Outcome]):
    """Each named request's final outcome; `done` is set once `expected` have one."""

    def __init__(self, expected: int) -> None:
        super().__init__()
        self.expected, self.done = expected, threading.Event()

    def sink(self, name: str) -> Sink:
        def emit(outcome: Outcome, final: bool) -> None:
            if final:
                self[name] = outcome
                if len(self) == self.expected:
                    self.done.set()

        return Sink(emit)


def test_a_request_cancelled_while_waiting_is_never_started() -> None:
    runner = CountdownRunner(rows=1)
    loop = GenerationLoop(runner)
    finals = Finals(expected=2)
    sink, done = finals.sink, finals.done

    loop.submit(Submission(SynthesisRequest(text="x" * 50, language="auto"), sink("long")))
    loop.submit(Submission(SynthesisRequest(text="boom", language="auto"), sink("waiting"), cancelled=lambda: True))
    assert done.wait(10)
    loop.close()
    assert isinstance(finals["waiting"], RuntimeError) and "cancelled" in str(finals["waiting"])
    assert isinstance(finals["long"], np.ndarray)  # "boom" would have failed admission had it started


class DyingRunner(CountdownRunner):
    """A runner whose step raises what the loop's guards do not catch (the thread ends)."""

    def step(self) -> None:
        raise SystemExit("the loop thread dies")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_loop_reports_it_and_answers_new_requests_at_once() -> None:
    loop = GenerationLoop(DyingRunner(rows=2))
    assert loop.alive()
    first: list[Outcome] = []
    loop.submit(Submission(SynthesisRequest(text="abc", language="Auto"), Sink(lambda o, f: first.append(o))))
    loop._thread.join(5)
    assert not loop.alive()
    answered: list[Outcome] = []
    loop.submit(Submission(SynthesisRequest(text="abc", language="Auto"), Sink(lambda o, f: answered.append(o))))
    assert len(answered) == 1 and isinstance(answered[0], LoopStoppedError)


class SlowPreparation(CountdownRunner):
    """Preparing a request whose text starts with 'slow' waits for `gate`; 'gone' is answered there."""

    def __init__(self, rows: int) -> None:
        super().__init__(rows)
        self.gate, self.admitted = threading.Event(), []

    def prepare(self, submission: Submission) -> Submission | None:
        if submission.request.text.startswith("slow"):
            assert self.gate.wait(10)
        if submission.request.text == "gone":
            submission.sink.finish(RuntimeError("answered while preparing"))
            return None
        submission.prepared = submission.request.text
        return submission

    def admit(self, submissions: list[Submission]) -> None:
        self.admitted += [s.prepared for s in submissions]
        super().admit(submissions)


def test_rows_keep_decoding_while_a_request_is_prepared_and_arrival_order_is_kept() -> None:
    runner = SlowPreparation(rows=4)
    loop = GenerationLoop(runner)
    finals = Finals(expected=4)
    sink, done = finals.sink, finals.done

    for text in ("x" * 20, "slowly", "gone", "yy"):
        loop.submit(Submission(SynthesisRequest(text=text, language="auto"), sink(text)))
    deadline = time.monotonic() + 10
    while "x" * 20 not in finals and time.monotonic() < deadline:  # decoded while "slowly" is held
        time.sleep(0.01)
    assert "x" * 20 in finals and runner.admitted == ["x" * 20]
    runner.gate.set()
    assert done.wait(10)
    loop.close()
    assert runner.admitted == ["x" * 20, "slowly", "yy"]
    assert isinstance(finals["gone"], RuntimeError) and isinstance(finals["yy"], np.ndarray)
