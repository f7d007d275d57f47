"""The generation loop's own Prometheus metrics, exported through Triton's metrics endpoint.

Triton's built-in metrics count requests and executions; with continuous batching an execution
only enqueues, so what autoscaling and capacity planning need comes from the loop: rows being
generated, requests waiting for a free row, and the busy time and frames of its steps.
`pb_utils` is passed in (it only exists inside Triton's stub), so this is testable without Triton.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tts_engine.scheduling.loop import LoopStats

Memory = Callable[[], tuple[int, int]]
"""The model process's GPU memory: (allocated, reserved) bytes of torch's caching allocator."""

FRAME_SECONDS = 0.08
"""Audio per codec frame (12.5 Hz): frames_total x 0.08 is audio seconds generated."""

PUBLISH_SECONDS = 0.25
"""Steps' statistics are summed and handed to Triton at most this often, and whenever the batch
empties (the loop then idles: nothing left unpublished). Each metric update is a round trip from
the stub to the server: per step, at a few ms a step on the CPU, they cost a sixth of the loop's time."""


class EngineMetrics:
    def __init__(
        self,
        pb_utils: Any,
        *,
        model: str,
        max_rows: int,
        memory: Memory | None = None,
        kv_bytes: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        family = pb_utils.MetricFamily
        labels = {"model": model}
        # Triton requires a family to outlive its metrics: keep every family referenced.
        self._families: list[Any] = []

        def metric(name: str, kind: Any, description: str) -> Any:
            self._families.append(family(name=name, description=description, kind=kind))
            return self._families[-1].Metric(labels=labels)

        self.active = metric("qwen_tts_engine_active_rows", family.GAUGE, "Rows being generated in the running batch")
        self.waiting = metric(
            "qwen_tts_engine_waiting_requests",
            family.GAUGE,
            "Requests received but not yet in the batch (arrived during the last step, or no free row)",
        )
        self.capacity = metric("qwen_tts_engine_max_rows", family.GAUGE, "Rows the running batch holds at most")
        self.steps = metric("qwen_tts_engine_steps_total", family.COUNTER, "Decoding steps run")
        self.busy = metric(
            "qwen_tts_engine_step_seconds_total", family.COUNTER, "Seconds spent in decoding steps (rate: busy share)"
        )
        self.frames = metric(
            "qwen_tts_engine_frames_total", family.COUNTER, f"Codec frames generated ({FRAME_SECONDS} s of audio each)"
        )
        self.graphs = metric(
            "qwen_tts_engine_cuda_graphs", family.GAUGE, "Step shapes replayed from CUDA graphs (QWEN_TTS_CUDA_GRAPHS)"
        )
        self.fallbacks = metric(
            "qwen_tts_engine_cuda_graph_fallbacks_total",
            family.COUNTER,
            "CUDA graph captures that failed: those step shapes run eagerly (slower, still correct)",
        )
        self._fallbacks_seen = 0
        self.capacity.set(max_rows)
        self.kv_cache = metric(
            "qwen_tts_engine_kv_cache_bytes",
            family.GAUGE,
            "KV cache preallocated for the batch's rows (QWEN_TTS_MAX_POSITIONS each; QWEN_TTS_KV_CACHE_MIB bounds it)",
        )
        self.kv_cache.set(kv_bytes)
        # Each model is its own process: /models sums these over the models (server_info.py).
        self._memory = memory
        self.allocated = metric(
            "qwen_tts_engine_gpu_allocated_bytes", family.GAUGE, "GPU memory held by tensors of this model's process"
        )
        self.reserved = metric(
            "qwen_tts_engine_gpu_reserved_bytes", family.GAUGE, "GPU memory reserved by this model's torch allocator"
        )
        self.observe_memory()
        self._clock = clock
        self._published = -PUBLISH_SECONDS  # the first step publishes at once
        self._steps, self._busy, self._frames = 0, 0.0, 0  # summed since the last publication

    def observe_memory(self) -> None:
        """At load and with each publication (host-side counters: no device sync)."""
        if self._memory is not None:
            allocated, reserved = self._memory()
            self.allocated.set(allocated)
            self.reserved.set(reserved)

    def observe(self, stats: LoopStats) -> None:
        """One step's statistics: summed, published when due (see PUBLISH_SECONDS)."""
        self._steps += 1
        self._busy += stats.step_seconds
        self._frames += stats.frames
        now = self._clock()
        if stats.active_rows and now - self._published < PUBLISH_SECONDS:
            return
        self._published = now
        self.observe_memory()
        self.active.set(stats.active_rows)
        self.waiting.set(stats.waiting)
        self.steps.increment(self._steps)
        self.busy.increment(self._busy)
        self.frames.increment(self._frames)
        self._steps, self._busy, self._frames = 0, 0.0, 0
        self.graphs.set(stats.graphs_captured)
        if stats.graph_fallbacks > self._fallbacks_seen:
            self.fallbacks.increment(stats.graph_fallbacks - self._fallbacks_seen)
            self._fallbacks_seen = stats.graph_fallbacks
