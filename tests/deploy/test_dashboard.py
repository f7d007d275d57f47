"""The Grafana dashboard: valid, a fixed uid, a data source variable used by every query, the
panels the operators need, and the Helm chart's copy identical to deploy/'s."""

from __future__ import annotations

import json
from typing import Any

from tests.deploy.chart import CHART, ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "qwen-tts.json"
HELM_COPY = CHART / "dashboards" / "qwen-tts.json"


def board() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def test_helm_copy_is_identical() -> None:
    # Helm reads files only inside the chart (.Files.Get), and symlinks out of a chart are not
    # packaged portably: the chart keeps a byte-identical copy, checked here.
    assert HELM_COPY.read_bytes() == DASHBOARD.read_bytes()


def test_fixed_uid_and_datasource_variable() -> None:
    data = board()
    assert data["uid"] == "qwen-tts-serving"
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    for panel in data["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}"
            assert target["expr"].strip()
    for name in ("api_job", "triton_job", "model"):
        assert variables[name]["datasource"]["uid"] == "${datasource}"


def test_panel_ids_unique_and_layout_sane() -> None:
    panels = board()["panels"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["x"] + pos["w"] <= 24, panel["title"]


def test_operators_panels() -> None:
    exprs = {p["title"]: " ".join(t["expr"] for t in p.get("targets", [])) for p in board()["panels"]}
    batch = exprs["Average batch size"]
    assert "rate(nv_inference_count" in batch and "rate(nv_inference_exec_count" in batch
    assert "nv_inference_queue_duration_us" in exprs["Average queue time per request"]
    assert "nv_inference_compute_infer_duration_us" in exprs["Average compute time per request"]
    assert "nv_gpu_utilization" in exprs["GPU utilization"]
    assert "nv_gpu_memory_used_bytes" in exprs["GPU memory"]
    assert any(
        "histogram_quantile" in e and "qwen_tts_http_request_duration_seconds_bucket" in e for e in exprs.values()
    )
    jobs = {title: exprs[title] for title in exprs if "job" in title.lower() or title == "Cloned voices"}
    assert "max(qwen_tts_jobs_queue_depth" in jobs["Job queue depth"]
    assert "max by (state) (qwen_tts_jobs{" in jobs["Jobs by state"]
    assert "qwen_tts_job_queue_wait_seconds_bucket" in jobs["Job queue wait (p95)"]
    assert "qwen_tts_job_duration_seconds_bucket" in jobs["Job duration by outcome (p95)"]
    assert "rate(qwen_tts_job_retries_total" in jobs["Job retries (re-claims after a lost lease)"]
    assert "max(qwen_tts_cloned_voices" in jobs["Cloned voices"]
    # The database gauges are the same number from every worker: never summed.
    assert not any("sum" in e and ("qwen_tts_jobs" in e or "cloned_voices" in e) for e in jobs.values())
    # Bounded labels: panels group by route template, never by a raw path label.
    assert all("path" not in e for e in exprs.values())
