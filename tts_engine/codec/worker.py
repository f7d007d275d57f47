"""Audio decoding off the decoding loop: threads that turn finished rows' codes into audio.

The loop hands over a row's codes when it leaves the batch (or a streamed chunk's codes) and goes
on stepping the others at once; the codec runs meanwhile (torch releases the GIL), so a long row's
decode no longer stalls every other row for its duration. On a GPU it also runs on CUDA streams
of its own, so its kernels overlap the loop's instead of queueing behind them; a job waits on an
event recorded when it was submitted (the codes the loop wrote are ready), on the device only.

Two lanes, a thread each: streamed pieces and short rows in one, whole rows longer than
`QUICK_FRAMES` in the other. A call cannot be interrupted, and one long row's decode takes as long
as hundreds of short ones (400 frames: about 0.2 s on the CPU), so in one lane a short request
or a stream's first chunk would wait for it. A row's pieces all go to one lane. Within a lane,
between calls, the worker takes whatever was queued and decodes the shortest pieces first
(`stream.next_call`): pieces of one length bucket share a call, within a frame budget. A row's
pieces still go out in order: a piece is taken only once the row's earlier ones are sent. With
`process` (`QWEN_TTS_CODEC_PROCESS=on`) each lane's codec calls run in a child process of its own
(`remote`): the lane thread keeps the queue and the order, and waits on its socket without the GIL.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol

import numpy as np
import torch

from tts_engine.codec.graphed import CodecGraphs
from tts_engine.codec.remote import CodecProcess
from tts_engine.codec.stream import (
    Piece,
    Span,
    codec_batch_rows,
    codec_call_frames,
    decode_codes,
    next_call,
    owed_audio,
    span,
    span_frames,
)
from tts_engine.step.graphs import backend_for

log = logging.getLogger(__name__)


QUICK_FRAMES = 96
"""Whole rows decoding more frames than this (8 s of audio) take the long lane. A streamed chunk
with its left context (72 + 8 frames) is below it."""


class Sink(Protocol):
    """Where a row's audio goes (the loop's `Sink`): declared here so the codec needs no scheduler."""

    stream: bool

    def chunk(self, audio: np.ndarray) -> None: ...

    def finish(self, outcome: Any) -> None: ...


@dataclass(frozen=True)
class DecodeJob:
    sink: Sink
    piece: Piece
    final: bool
    ready: Any = field(default=None, compare=False)
    """A CUDA event recorded on the submitting thread's stream (set by `submit`)."""


Decoder = Callable[[list[torch.Tensor]], list[Any]]
"""One codec call: each row's whole audio from its codes [T, G] (`stream.decode_codes`)."""


class CodecWorker:
    def __init__(self, tts: Any, *, name: str = "codec", graphs: str = "off", process: bool = False) -> None:
        """`graphs`: `QWEN_TTS_CODEC_GRAPHS` (`auto`: the quick lane's decoder captured per bucket on
        a GPU, where launches cost most; the long lane's calls are long anyway). `process`:
        `QWEN_TTS_CODEC_PROCESS`, each lane's decoding in a child process of its own (`remote`)."""
        device = torch.device(tts.model.device)
        codec = tts.model.speech_tokenizer
        self.graphs: CodecGraphs | None = None
        self.processes: list[CodecProcess] = []
        decoders: tuple[Decoder, Decoder]
        if process:
            self.processes = [CodecProcess.for_codec(codec, graphs=graphs, name=f"{name}-quick")]
            try:
                self.processes.append(CodecProcess.for_codec(codec, name=f"{name}-long"))  # graphs: quick lane only
            except Exception:
                self.processes[0].close()  # no child left behind when the model fails to load
                raise
            decoders = (self.processes[0].decode, self.processes[1].decode)
        else:
            backend = backend_for(graphs, device)
            rows = codec_batch_rows(device)
            self.graphs = CodecGraphs(codec, backend, max_rows=rows) if backend else None
            decoders = (partial(decode_codes, codec, graphs=self.graphs), partial(decode_codes, codec))
        self._quick = _Lane(device, f"{name}-quick", decoders[0])
        self._long = _Lane(device, f"{name}-long", decoders[1])

    @property
    def busy_seconds(self) -> float:
        """Seconds spent decoding, both lanes (for the benchmarks: codec time per step)."""
        return self._quick.busy_seconds + self._long.busy_seconds

    @property
    def calls(self) -> int:
        return self._quick.calls + self._long.calls

    def submit(self, job: DecodeJob) -> None:
        long = not job.sink.stream and span_frames(job.piece) > QUICK_FRAMES
        (self._long if long else self._quick).submit(job)

    def flush(self) -> None:
        """Wait until everything submitted so far has been decoded and sent."""
        self._quick.flush()
        self._long.flush()

    def close(self, timeout: float = 30.0) -> None:
        self._quick.close(timeout)
        self._long.close(timeout)
        for child in self.processes:
            child.close()


class _Lane:
    """One decoding thread and its queue."""

    def __init__(self, device: torch.device, name: str, decoder: Decoder) -> None:
        self._decoder = decoder
        # torch's intra-op thread count is per thread: the codec keeps the process's default even
        # when the loop thread runs single-threaded (and decodes the same way every time).
        self._threads = torch.get_num_threads()
        self._stream = torch.cuda.Stream(device) if device.type == "cuda" else None
        self._rows, self._frames = codec_batch_rows(device), codec_call_frames(device)
        self.busy_seconds = 0.0
        self.calls = 0
        self._jobs: queue.Queue[DecodeJob | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: DecodeJob) -> None:
        if self._stream is not None:
            event = torch.cuda.Event()
            event.record()  # on the loop's stream: the job's codes are written once it has passed
            job = DecodeJob(job.sink, job.piece, job.final, event)
        self._jobs.put(job)

    def flush(self) -> None:
        self._jobs.join()

    def close(self, timeout: float) -> None:
        self._jobs.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        torch.set_num_threads(self._threads)
        with torch.cuda.stream(self._stream) if self._stream is not None else nullcontext():
            self._serve()

    def _serve(self) -> None:
        pending: list[_Pending] = []
        stopping = False
        while not (stopping and not pending):
            stopping = self._take(pending, block=not pending) or stopping
            if pending:
                self._decode_next(pending)

    def _take(self, pending: list[_Pending], *, block: bool) -> bool:
        """Move what was queued into `pending` (waiting for something if `block`); True once
        `close` was called."""
        items = [self._jobs.get()] if block else []
        while True:
            try:
                items.append(self._jobs.get_nowait())
            except queue.Empty:
                break
        for item in items:
            if item is None:
                self._jobs.task_done()
            else:
                pending.append(self._pending(item))
        return None in items

    def _pending(self, job: DecodeJob) -> _Pending:
        if job.ready is not None and self._stream is not None:
            self._stream.wait_event(job.ready)
        try:
            return _Pending(job, span(job.piece))
        except Exception as exc:  # malformed codes: this row fails, not the worker
            return _Pending(job, None, exc)

    @torch.no_grad()
    def _decode_next(self, pending: list[_Pending]) -> None:
        """Send what owes no audio, then decode and send the next call."""
        self._send_ready(pending)
        chosen = [pending[i] for i in next_call([p.span for p in pending], _firsts(pending), self._rows, self._frames)]
        if not chosen:
            return
        started = time.perf_counter()
        try:
            spans = [p.span for p in chosen if p.span is not None]
            audio: list[Any] = owed_audio(spans, self._decoder([span.codes for span in spans]))
        except Exception as exc:
            log.exception("decoding %d pieces failed", len(chosen))
            audio = [RuntimeError(f"audio decoding failed: {type(exc).__name__}")] * len(chosen)
        finally:
            self.busy_seconds += time.perf_counter() - started
            self.calls += 1
        for item, wav in zip(chosen, audio, strict=True):
            self._send(pending, item, wav)
            self._send_ready(pending)  # e.g. the row's final right after its last chunk

    def _send_ready(self, pending: list[_Pending]) -> None:
        """Send each row's first pending piece while it owes no audio (a final after its last chunk)."""
        for item, first in list(zip(pending, _firsts(pending), strict=True)):
            if first and item.span is None:
                self._send(pending, item, item.error or _SILENCE)

    def _send(self, pending: list[_Pending], item: _Pending, outcome: Any) -> None:
        pending.remove(item)
        try:
            if isinstance(outcome, Exception) or item.job.final:
                item.job.sink.finish(outcome)
            else:
                item.job.sink.chunk(outcome)
        finally:
            self._jobs.task_done()


_SILENCE = np.zeros(0, dtype=np.float32)


def _firsts(pending: list[_Pending]) -> list[bool]:
    """Whether each pending piece is its row's first (only that one may be sent: rows stay in order)."""
    seen: set[int] = set()
    firsts = []
    for item in pending:
        firsts.append(id(item.job.sink) not in seen)
        seen.add(id(item.job.sink))
    return firsts


@dataclass(eq=False)
class _Pending:
    job: DecodeJob
    span: Span | None
    """What decoding it takes (None: it owes no audio)."""
    error: Exception | None = None
