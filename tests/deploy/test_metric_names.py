"""Every metric name the dashboard and the alert rules query exists: in the API's metrics modules
(api/metrics/, the healer's api/healing/metrics.py) or in Triton's metric families
(tests/deploy/triton_metrics.txt, captured from the real Triton 2.51, GPU names from its
documentation), which include the generation loop's own (tts_engine/serving/metrics.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import yaml

from api import metrics
from api.healing import metrics as healing_metrics
from tests.deploy.chart import ROOT, render
from tts_engine.serving.metrics import EngineMetrics

TRITON_METRICS = Path(__file__).with_name("triton_metrics.txt")
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "qwen-tts.json"
COMPOSE_RULES = ROOT / "deploy" / "prometheus" / "rules" / "qwen-tts.yml"
PROMETHEUS_BUILTIN = {"up"}
# Metrics of features still being built, allowed only behind their gate: {name: "AlertName (gate)"}.
PENDING: dict[str, str] = {}

NAME = re.compile(r"\b((?:qwen_tts|nv)_[a-z0-9_]+|up)\b")
SUFFIXES = ("_bucket", "_count", "_sum")


def triton_names() -> set[str]:
    lines = (line.strip() for line in TRITON_METRICS.read_text().splitlines())
    return {line for line in lines if line and not line.startswith("#")}


def engine_names() -> set[str]:
    """The families the generation loop registers with Triton (pb_utils replaced by a recorder)."""
    names: set[str] = set()

    class Family:
        GAUGE, COUNTER = "gauge", "counter"

        def __init__(self, name: str, description: str, kind: str) -> None:
            names.add(name)

        def Metric(self, labels: dict[str, str]) -> mock.Mock:
            return mock.Mock()

    EngineMetrics(SimpleNamespace(MetricFamily=Family), model="custom_voice_1_7b", max_rows=32)
    return names


def api_names() -> set[str]:
    return set(metrics.METRIC_NAMES) | set(healing_metrics.METRIC_NAMES)


def family(name: str, known: set[str]) -> str:
    if name in known:
        return name
    for suffix in SUFFIXES:
        if name.endswith(suffix) and name.removesuffix(suffix) in known:
            return name.removesuffix(suffix)
    return name


def names_in(expr: str) -> set[str]:
    return set(NAME.findall(expr))


def dashboard_exprs() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in board["panels"] for t in p.get("targets", [])]
    exprs += [v["query"]["query"] for v in board["templating"]["list"] if v["type"] == "query"]
    return exprs


def rule_exprs(groups: list[dict[str, Any]]) -> dict[str, str]:
    return {r["alert"]: r["expr"] for g in groups for r in g["rules"]}


def unknown(exprs: list[str], allowed: set[str]) -> set[str]:
    known = api_names() | triton_names() | PROMETHEUS_BUILTIN
    return {family(n, known) for e in exprs for n in names_in(e)} - known - allowed


def test_triton_list_has_the_captured_and_documented_names() -> None:
    names = triton_names()
    assert {
        "nv_inference_queue_duration_us",
        "nv_inference_compute_infer_duration_us",
        "nv_inference_count",
        "nv_inference_exec_count",
        "nv_inference_request_success",
        "nv_inference_request_failure",
    } <= names
    assert {"nv_gpu_utilization", "nv_gpu_memory_used_bytes", "nv_gpu_memory_total_bytes"} <= names
    assert all(re.fullmatch(r"(nv|qwen_tts_engine)_[a-z0-9_]+", n) for n in names)


def test_triton_list_has_exactly_the_generation_loops_families() -> None:
    captured = {n for n in triton_names() if n.startswith("qwen_tts_engine_")}
    assert captured == engine_names()
    assert {"qwen_tts_engine_waiting_requests", "qwen_tts_engine_step_seconds_total"} <= captured
    assert not captured & api_names()  # the API's registry and Triton's endpoint never share a name


def test_api_metric_names_are_what_the_module_registers() -> None:
    from prometheus_client import REGISTRY

    registered = {m.name for m in REGISTRY.collect() if m.name.startswith("qwen_tts_")}
    assert {n.removesuffix("_total") for n in api_names()} == registered


def test_dashboard_uses_only_existing_metrics() -> None:
    exprs = dashboard_exprs()
    used = {n for e in exprs for n in names_in(e)}
    assert unknown(exprs, set()) == set()
    # The dashboard shows both sides.
    assert {
        "qwen_tts_http_requests_total",
        "qwen_tts_triton_request_duration_seconds_bucket",
        "qwen_tts_audio_generated_seconds_total",
        "qwen_tts_audio_encoding_duration_seconds_bucket",
        "qwen_tts_jobs",
        "qwen_tts_jobs_queue_depth",
        "qwen_tts_job_queue_wait_seconds_bucket",
        "qwen_tts_job_duration_seconds_bucket",
        "qwen_tts_job_retries_total",
        "qwen_tts_cloned_voices",
        "qwen_tts_time_to_first_byte_seconds_bucket",
        "qwen_tts_audio_streamed_seconds_total",
    } <= used
    assert {
        "nv_inference_queue_duration_us",
        "nv_inference_compute_infer_duration_us",
        "nv_inference_count",
        "nv_inference_exec_count",
        "nv_gpu_utilization",
        "nv_gpu_memory_used_bytes",
    } <= used
    assert engine_names() <= used  # a panel for each of the generation loop's metrics


def test_alert_rules_use_only_existing_metrics() -> None:
    compose = rule_exprs(yaml.safe_load(COMPOSE_RULES.read_text())["groups"])
    assert unknown(list(compose.values()), set()) == set()
    assert "QwenTTSJobBacklogHigh" in compose
    assert "qwen_tts_engine_waiting_requests" in compose["QwenTTSEngineSaturated"]
    rendered = render(monitoring=True).get("PrometheusRule")  # the defaults: every alert on
    chart = rule_exprs(rendered["spec"]["groups"])
    assert "QwenTTSJobBacklogHigh" in chart
    for alert, expr in chart.items():
        pending = {n for n in names_in(expr) if n in PENDING}
        assert all(PENDING[n].startswith(alert) for n in pending), (alert, pending)
        assert unknown([expr], set(PENDING)) == set(), alert


def test_the_check_catches_a_typo() -> None:
    assert unknown(["rate(nv_inference_queue_duration_ms[5m])"], set()) == {"nv_inference_queue_duration_ms"}
    assert unknown(["rate(qwen_tts_http_request_total[5m])"], set()) == {"qwen_tts_http_request_total"}
