"""In-process load on one model's generation loop: closed-loop clients, mixed settings and lengths.

`concurrency` clients each send a request, wait for its final response and send the next, until
`requests` were sent or `seconds` passed. Requests cycle through sampling settings (defaults,
greedy, top-k/top-p, repetition penalty, a seed) and lengths; every other one streams. Measured:
audio seconds per second (all clients together), each request's time to first audio (streamed:
its first chunk) and latency, and from the loop's own statistics its steps, busy time and rows.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from benchmarks.report import percentile
from tts_engine.config import Variant
from tts_engine.requests import SamplingParams, SynthesisRequest
from tts_engine.scheduling.loop import GenerationLoop, LoopStats, Sink, Submission

SAMPLE_RATE = 24000
SAMPLINGS: tuple[dict[str, Any], ...] = (
    {},
    {"temperature": 0.7, "top_k": 20, "top_p": 0.9},
    {"temperature": 0.0},
    {"repetition_penalty": 1.2, "seed": 7},
    {"temperature": 1.1, "top_k": 100, "top_p": 0.8},
)
TEXTS = (
    "Hello there.",
    "The quick brown fox jumps over the lazy dog, twice, before breakfast.",
    "Streaming speech should start quickly and keep up with the listener, however many others are talking.",
)


def reference_clip(seconds: float = 3.0) -> np.ndarray:
    """A voice-clone reference: noise at 24 kHz (no resampling, so no numba compile)."""
    return (np.random.default_rng(0).standard_normal(int(seconds * SAMPLE_RATE)) * 0.1).astype(np.float32)


def make_request(variant: Variant, index: int, lengths: tuple[int, ...], reference: np.ndarray) -> SynthesisRequest:
    sampling = SamplingParams(max_new_tokens=lengths[index % len(lengths)], **SAMPLINGS[index % len(SAMPLINGS)])
    text = TEXTS[index % len(TEXTS)]
    if variant is Variant.VOICE_CLONE:
        icl = index % 2 == 0  # ICL rows carry the reference's codes; x-vector rows only its embedding
        return SynthesisRequest(
            text=text,
            language="English",
            ref_audio=reference,
            ref_sample_rate=SAMPLE_RATE,
            ref_text="This is the reference clip." if icl else None,
            x_vector_only=not icl,
            sampling=sampling,
        )
    return SynthesisRequest(text=text, language="English", speaker="ryan", sampling=sampling)


@dataclass
class Timing:
    stream: bool
    submitted: float
    first: float | None = None
    done: float | None = None
    samples: int = 0
    error: str | None = None


@dataclass
class Clients:
    loop: GenerationLoop
    variant: Variant
    concurrency: int
    requests: int
    lengths: tuple[int, ...]
    deadline: float
    reference: np.ndarray = field(default_factory=reference_clip)
    timings: list[Timing] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _finished: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        for _ in range(min(self.concurrency, self.requests)):
            self._send()
        self._finished.wait()

    def _send(self) -> None:
        with self._lock:
            index = len(self.timings)
            if index >= self.requests or (index and time.perf_counter() > self.deadline):
                if all(t.done is not None for t in self.timings):
                    self._finished.set()
                return
            timing = Timing(stream=index % 2 == 1, submitted=time.perf_counter())
            self.timings.append(timing)
        request = make_request(self.variant, index, self.lengths, self.reference)
        sink = Sink(lambda outcome, final: self._emit(timing, outcome, final), stream=timing.stream)
        self.loop.submit(Submission(request, sink))

    def _emit(self, timing: Timing, outcome: Any, final: bool) -> None:
        now = time.perf_counter()
        if isinstance(outcome, np.ndarray):
            timing.samples += outcome.size
            if timing.first is None and outcome.size:
                timing.first = now
        elif final:
            timing.error = str(outcome)
        if final:
            timing.done = now
            self._send()


def percentiles(values: list[float]) -> dict[str, float | int] | None:
    if not values:
        return None
    return {"p50": round(percentile(values, 50), 3), "p95": round(percentile(values, 95), 3), "n": len(values)}


def summary(clients: Clients, stats: list[LoopStats], wall: float, codec_seconds: float) -> dict[str, Any]:
    done = [t for t in clients.timings if t.done is not None and t.error is None]
    latency = [t.done - t.submitted for t in done if t.done is not None]
    speed = [t.samples / SAMPLE_RATE / seconds for t, seconds in zip(done, latency, strict=True)]
    audio = sum(t.samples for t in done) / SAMPLE_RATE
    steps = len(stats)
    busy = sum(s.step_seconds for s in stats)
    return {
        "concurrency": clients.concurrency,
        "requests": len(clients.timings),
        "errors": sorted({t.error for t in clients.timings if t.error})[:3],
        "wall_seconds": round(wall, 3),
        "audio_seconds": round(audio, 3),
        "audio_seconds_per_second": round(audio / wall, 3),
        "x_real_time_per_stream": percentiles(speed),
        "ttfa_ms_streaming": percentiles([1000 * (t.first - t.submitted) for t in done if t.stream and t.first]),
        "latency_ms": percentiles([1000 * seconds for seconds in latency]),
        "steps": steps,
        "ms_per_step": round(1000 * busy / steps, 3) if steps else None,
        "mean_rows_per_step": round(sum(s.frames for s in stats) / steps, 2) if steps else None,
        "codec_ms_per_step": round(1000 * codec_seconds / steps, 3) if steps else None,
        "codec_busy_share": round(codec_seconds / wall, 3),
    }


class LoadRun:
    """One model's loop, observed: `level()` runs one concurrency level and summarises it."""

    def __init__(self, runner: Any, variant: Variant) -> None:
        self._stats: list[LoopStats] = []
        self._runner, self.variant = runner, variant
        self.loop = GenerationLoop(runner, name="gpu-check", observe=self._stats.append)

    def level(self, concurrency: int, requests: int, lengths: tuple[int, ...], seconds: float) -> dict[str, Any]:
        clients = Clients(self.loop, self.variant, concurrency, requests, lengths, time.perf_counter() + seconds)
        before, codec = len(self._stats), _codec_seconds(self._runner)
        started = time.perf_counter()
        clients.run()
        wall = time.perf_counter() - started
        return summary(clients, self._stats[before:], wall, _codec_seconds(self._runner) - codec)

    def close(self) -> None:
        self.loop.close()


def _codec_seconds(runner: Any) -> float:
    codec = getattr(runner, "codec", None)
    return float(codec.busy_seconds) if codec is not None else 0.0
