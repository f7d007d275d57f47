"""Audio decoding off the decoding loop: a thread that turns finished rows' codes into audio.

The loop hands over a row's codes when it leaves the batch (or a streamed chunk's codes) and goes
on stepping the others at once; the codec runs meanwhile (torch releases the GIL), so a long row's
decode no longer stalls every other row for its duration. On a GPU it also runs on a CUDA stream
of its own, so its kernels overlap the loop's instead of queueing behind them; a job waits on an
event recorded when it was submitted (the codes the loop wrote are ready), on the device only.
One thread, first in first out: a row's chunks are always sent before its final response.
Whatever is queued when it wakes is decoded together: finished rows and streamed chunks share
codec calls (`stream.decode_pieces`).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

from tts_engine.codec.graphed import CodecGraphs
from tts_engine.codec.stream import Piece, codec_batch_rows, decode_pieces
from tts_engine.step.graphs import backend_for

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where a row's audio goes (the loop's `Sink`): declared here so the codec needs no scheduler."""

    def chunk(self, audio: np.ndarray) -> None: ...

    def finish(self, outcome: Any) -> None: ...


@dataclass(frozen=True)
class DecodeJob:
    sink: Sink
    piece: Piece
    final: bool
    ready: Any = field(default=None, compare=False)
    """A CUDA event recorded on the submitting thread's stream (set by `submit`)."""


class CodecWorker:
    def __init__(self, tts: Any, *, name: str = "codec", graphs: str = "off") -> None:
        """`graphs`: `QWEN_TTS_CODEC_GRAPHS` (`auto`: the decoder captured per bucket on a GPU)."""
        self._tts = tts
        # torch's intra-op thread count is per thread: the codec keeps the process's default even
        # when the loop thread runs single-threaded (and decodes the same way every time).
        self._threads = torch.get_num_threads()
        device = torch.device(tts.model.device)
        self._stream = torch.cuda.Stream(device) if device.type == "cuda" else None
        backend = backend_for(graphs, device)
        rows = codec_batch_rows(device)
        self.graphs = CodecGraphs(tts.model.speech_tokenizer, backend, max_rows=rows) if backend else None
        self.busy_seconds = 0.0
        """Seconds spent decoding (for the benchmarks: codec time per step)."""
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
        """Wait until everything submitted so far has been decoded and sent."""
        self._jobs.join()

    def close(self, timeout: float = 30.0) -> None:
        self._jobs.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        torch.set_num_threads(self._threads)
        with torch.cuda.stream(self._stream) if self._stream is not None else nullcontext():
            self._serve()

    def _serve(self) -> None:
        while True:
            batch = [self._jobs.get()]
            while True:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            stop = None in batch
            jobs = [job for job in batch if job is not None]
            try:
                self._decode(jobs)
            finally:
                for _ in batch:
                    self._jobs.task_done()
            if stop:
                return

    @torch.no_grad()
    def _decode(self, jobs: list[DecodeJob]) -> None:
        if not jobs:
            return
        started = time.perf_counter()
        for job in jobs:
            if job.ready is not None and self._stream is not None:
                self._stream.wait_event(job.ready)
        try:
            audio = decode_pieces(self._tts, [job.piece for job in jobs], self.graphs)
        except Exception as exc:
            log.exception("decoding %d pieces failed", len(jobs))
            for job in jobs:
                job.sink.finish(RuntimeError(f"audio decoding failed: {type(exc).__name__}"))
            return
        finally:
            self.busy_seconds += time.perf_counter() - started
            self.calls += 1
        for job, wav in zip(jobs, audio, strict=True):
            if job.final:
                job.sink.finish(wav)
            else:
                job.sink.chunk(wav)
