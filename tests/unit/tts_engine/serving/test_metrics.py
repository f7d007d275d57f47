"""The loop's statistics become Triton custom metrics (pb_utils replaced by a recorder)."""

from typing import Any

from tts_engine.scheduling.loop import LoopStats
from tts_engine.serving.metrics import PUBLISH_SECONDS, EngineMetrics


class FakeMetric:
    def __init__(self) -> None:
        self.value = 0.0

    def set(self, value: float) -> None:
        self.value = value

    def increment(self, value: float) -> None:
        assert value >= 0, "a counter only goes up"
        self.value += value


class FakeFamily:
    GAUGE, COUNTER = "gauge", "counter"
    made: dict[str, tuple[str, "FakeMetric", dict[str, str]]] = {}

    def __init__(self, name: str, description: str, kind: str) -> None:
        assert name.startswith("qwen_tts_engine_") and description
        assert name.endswith("_total") == (kind == "counter")
        self.name, self.kind = name, kind

    def Metric(self, labels: dict[str, str]) -> FakeMetric:
        metric = FakeMetric()
        FakeFamily.made[self.name] = (self.kind, metric, labels)
        return metric


class FakePbUtils:
    MetricFamily = FakeFamily


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def values() -> dict[str, Any]:
    return {name: entry[1].value for name, entry in FakeFamily.made.items()}


def test_stats_accumulate_into_gauges_and_counters() -> None:
    clock = Clock()
    metrics = EngineMetrics(FakePbUtils(), model="custom_voice_1_7b", max_rows=32, clock=clock)
    for stats in (
        LoopStats(active_rows=3, frames=3, waiting=2, step_seconds=0.05),
        LoopStats(active_rows=1, frames=3, waiting=0, step_seconds=0.04, graphs_captured=2),
        LoopStats(1, 0, 0, 0.0, graphs_captured=3, graph_fallbacks=2),
        LoopStats(1, 0, 0, 0.0, graphs_captured=3, graph_fallbacks=2),
    ):
        metrics.observe(stats)
        clock.now += PUBLISH_SECONDS  # each step published
    made = values()
    assert made["qwen_tts_engine_active_rows"] == 1
    assert made["qwen_tts_engine_waiting_requests"] == 0
    assert made["qwen_tts_engine_max_rows"] == 32
    assert made["qwen_tts_engine_steps_total"] == 4
    assert made["qwen_tts_engine_cuda_graphs"] == 3
    assert made["qwen_tts_engine_cuda_graph_fallbacks_total"] == 2, "counted once however often it is reported"
    assert made["qwen_tts_engine_frames_total"] == 6
    assert abs(made["qwen_tts_engine_step_seconds_total"] - 0.09) < 1e-9
    assert {entry[2]["model"] for entry in FakeFamily.made.values()} == {"custom_voice_1_7b"}


def test_steps_are_published_at_most_every_interval_and_when_the_batch_empties() -> None:
    clock = Clock()
    metrics = EngineMetrics(FakePbUtils(), model="custom_voice_1_7b", max_rows=32, clock=clock)
    metrics.observe(LoopStats(active_rows=2, frames=2, waiting=1, step_seconds=0.01))  # the first: at once
    assert values()["qwen_tts_engine_steps_total"] == 1
    for _ in range(5):  # within the interval: summed, not yet published
        clock.now += PUBLISH_SECONDS / 10
        metrics.observe(LoopStats(active_rows=4, frames=4, waiting=0, step_seconds=0.01))
    made = values()
    assert made["qwen_tts_engine_steps_total"] == 1 and made["qwen_tts_engine_frames_total"] == 2
    assert made["qwen_tts_engine_active_rows"] == 2 and made["qwen_tts_engine_waiting_requests"] == 1
    clock.now += PUBLISH_SECONDS / 10
    metrics.observe(LoopStats(active_rows=0, frames=4, waiting=0, step_seconds=0.01))  # emptied: published
    made = values()
    assert made["qwen_tts_engine_steps_total"] == 7 and made["qwen_tts_engine_frames_total"] == 26
    assert made["qwen_tts_engine_active_rows"] == 0 and made["qwen_tts_engine_waiting_requests"] == 0
    assert abs(made["qwen_tts_engine_step_seconds_total"] - 0.07) < 1e-9
    clock.now += PUBLISH_SECONDS / 10
    metrics.observe(LoopStats(active_rows=1, frames=1, waiting=0, step_seconds=0.01))
    clock.now += PUBLISH_SECONDS
    metrics.observe(LoopStats(active_rows=1, frames=1, waiting=0, step_seconds=0.01))  # the interval passed
    assert values()["qwen_tts_engine_steps_total"] == 9 and values()["qwen_tts_engine_frames_total"] == 28


def test_gpu_memory_is_read_at_load_and_with_each_publication() -> None:
    held = iter([(1 << 30, 2 << 30), (3 << 30, 4 << 30)])
    metrics = EngineMetrics(FakePbUtils(), model="voice_clone_1_7b", max_rows=8, memory=lambda: next(held))
    made = FakeFamily.made
    assert made["qwen_tts_engine_gpu_allocated_bytes"][1].value == 1 << 30
    metrics.observe(LoopStats(active_rows=1, frames=1, waiting=0, step_seconds=0.01))
    assert made["qwen_tts_engine_gpu_allocated_bytes"][1].value == 3 << 30
    assert made["qwen_tts_engine_gpu_reserved_bytes"][1].value == 4 << 30


def test_the_kv_cache_size_is_a_gauge_set_at_load() -> None:
    EngineMetrics(FakePbUtils(), model="custom_voice_1_7b", max_rows=24, kv_bytes=12 << 30)
    assert FakeFamily.made["qwen_tts_engine_kv_cache_bytes"][1].value == 12 << 30
    assert FakeFamily.made["qwen_tts_engine_max_rows"][1].value == 24
