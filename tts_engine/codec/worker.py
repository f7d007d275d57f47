"""Audio decoding off the decoding loop: a thread that turns finished rows' codes into audio.

The loop hands over a row's codes when it leaves the batch (or a streamed chunk's codes) and goes
on stepping the others at once; the codec runs meanwhile (torch releases the GIL), so a long row's
decode no longer stalls every other row for its duration. One thread, first in first out: a row's
chunks are always sent before its final response. Whatever is queued when it wakes is decoded
together (batched codec calls).
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch

from tts_engine.codec.stream import Piece, decode_chunks, decode_final

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


class CodecWorker:
    def __init__(self, tts: Any, *, name: str = "codec") -> None:
        self._tts = tts
        # torch's intra-op thread count is per thread: the codec keeps the process's default even
        # when the loop thread runs single-threaded (and decodes the same way every time).
        self._threads = torch.get_num_threads()
        self._jobs: queue.Queue[DecodeJob | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, job: DecodeJob) -> None:
        self._jobs.put(job)

    def flush(self) -> None:
        """Wait until everything submitted so far has been decoded and sent."""
        self._jobs.join()

    def close(self, timeout: float = 30.0) -> None:
        self._jobs.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        torch.set_num_threads(self._threads)
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
        chunks = [job for job in jobs if not job.final]
        finals = [job for job in jobs if job.final]
        for group, decode in ((chunks, decode_chunks), (finals, decode_final)):
            if not group:
                continue
            try:
                audio = decode(self._tts, [job.piece for job in group])
            except Exception as exc:
                log.exception("decoding %d rows failed", len(group))
                for job in group:
                    job.sink.finish(RuntimeError(f"audio decoding failed: {type(exc).__name__}"))
                continue
            for job, wav in zip(group, audio, strict=True):
                if job.final:
                    job.sink.finish(wav)
                else:
                    job.sink.chunk(wav)
