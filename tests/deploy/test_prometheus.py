"""Alert rules and the Prometheus configuration checked by the real promtool (Debian's prometheus
package), the rules extracted from the rendered PrometheusRule; the compose rules file kept
identical to the chart's; the alerts, and the chart README's prometheus-adapter query, exercised by
`promtool test rules` on synthetic series."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.chart import CHART, ROOT, render
from tests.deploy.tools import promtool

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
COMPOSE_RULES = PROMETHEUS_DIR / "rules" / "qwen-tts.yml"


def run_promtool(*args: str, cwd: Path | None = None) -> str:
    done = subprocess.run([promtool(), *args], capture_output=True, text=True, timeout=60, cwd=cwd)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout + done.stderr


def chart_groups(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    rule = render(values, monitoring=True).get("PrometheusRule")
    groups: list[dict[str, Any]] = rule["spec"]["groups"]
    return groups


def write_rules(path: Path, groups: list[dict[str, Any]]) -> Path:
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    return path


@pytest.mark.parametrize(
    "values",
    [
        None,
        {"prometheusRule": {"jobAlerts": True}},
        {
            "prometheusRule": {
                "jobAlerts": True,
                "thresholds": {"engineWaitingRequests": 0.5, "inferenceFailureRatio": 0.01},
            }
        },
    ],
    ids=["default", "job-alerts", "thresholds"],
)
def test_rendered_prometheus_rule_passes_promtool(tmp_path: Path, values: dict[str, Any] | None) -> None:
    groups = chart_groups(values)
    out = run_promtool("check", "rules", str(write_rules(tmp_path / "rules.yml", groups)))
    count = sum(len(g["rules"]) for g in groups)
    assert f"SUCCESS: {count} rules found" in out


def test_compose_rules_equal_the_chart_rules() -> None:
    compose = yaml.safe_load(COMPOSE_RULES.read_text())["groups"]
    assert compose == chart_groups({"prometheusRule": {"tritonJob": "triton", "apiJob": "api"}})
    run_promtool("check", "rules", str(COMPOSE_RULES))


def test_prometheus_config_passes_promtool_and_scrapes_both() -> None:
    out = run_promtool("check", "config", str(PROMETHEUS_DIR / "prometheus.yml"))
    assert "SUCCESS" in out and "rules found" in out
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: (job.get("metrics_path", "/metrics"), job["static_configs"][0]["targets"])
        for job in config["scrape_configs"]
    }
    assert targets["api"] == ("/metrics", ["api:8080"])
    assert targets["triton"] == ("/metrics", ["triton:8002"])


ALERT_TESTS = textwrap.dedent(
    """
    rule_files:
      - rules.yml
    evaluation_interval: 1m
    tests:
      - interval: 1m
        input_series:
          # custom_voice_1_7b: 3 requests wait for a row on one of two Triton pods, all the time.
          - series: 'qwen_tts_engine_waiting_requests{job="triton",instance="triton-a",model="custom_voice_1_7b"}'
            values: '3x30'
          - series: 'qwen_tts_engine_waiting_requests{job="triton",instance="triton-b",model="custom_voice_1_7b"}'
            values: '0x30'
          # voice_clone_0_6b: busy but not full: a request that arrived during the step shows up at
          # every other scrape (an average of 0.5).
          - series: 'qwen_tts_engine_waiting_requests{job="triton",instance="triton-a",model="voice_clone_0_6b"}'
            values: '0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0'
          - series: 'nv_inference_request_success{job="triton",model="custom_voice_1_7b"}'
            values: '0+600x30'
          - series: 'nv_inference_request_failure{job="triton",model="custom_voice_1_7b",reason="BACKEND"}'
            values: '0+0x30'
          - series: 'up{job="triton"}'
            values: '1x30'
          - series: >-
              qwen_tts_triton_request_duration_seconds_count{job="api",model="custom_voice_1_7b",outcome="success"}
            values: '0+90x30'
          - series: >-
              qwen_tts_triton_request_duration_seconds_count{job="api",model="custom_voice_1_7b",outcome="error"}
            values: '0+10x30'
          - series: >-
              qwen_tts_triton_request_duration_seconds_count{job="api",model="custom_voice_1_7b",outcome="rejected"}
            values: '0+500x30'
          - series: 'qwen_tts_triton_ready{job="api"}'
            values: '1x30'
        alert_rule_test:
          - eval_time: 9m
            alertname: QwenTTSEngineSaturated
            exp_alerts: []  # pending: saturated, but not yet for 10 minutes
          - eval_time: 20m
            alertname: QwenTTSEngineSaturated
            exp_alerts:
              - exp_labels: {severity: warning, model: custom_voice_1_7b}
                exp_annotations:
                  summary: Requests wait for a free generation row of custom_voice_1_7b
                  description: >-
                    3 requests on average waited for a free row of custom_voice_1_7b over 5 minutes
                    (threshold 1): every row of its batch (QWEN_TTS_MAX_BATCH_ROWS) is in use and new
                    requests queue until a row finishes, adding latency. Add Triton replicas or GPUs,
                    raise the rows if GPU memory and step time allow, or shed load.
          - eval_time: 20m
            alertname: QwenTTSInferenceFailureRate
            exp_alerts:
              # 10 errors among 100 calls a minute; the 500 rejected ones are not counted.
              - exp_labels: {severity: critical, model: custom_voice_1_7b}
                exp_annotations:
                  summary: Inference calls fail for custom_voice_1_7b
                  description: >-
                    10% of the API's inference calls to custom_voice_1_7b failed or found the model
                    unavailable over 5 minutes (requests the model rejected as invalid, and cancelled
                    ones, are left out).
          - eval_time: 20m
            alertname: QwenTTSTritonRequestFailures
            exp_alerts: []
          - eval_time: 20m
            alertname: QwenTTSNoTritonReady
            exp_alerts: []
      - interval: 1m
        input_series:
          - series: 'up{job="triton"}'
            values: '0x30'
          - series: 'qwen_tts_triton_ready{job="api"}'
            values: '0x30'
        alert_rule_test:
          - eval_time: 10m
            alertname: QwenTTSNoTritonReady
            exp_alerts: &no_triton_ready  # the same alert, whichever of its two causes fires it
              - exp_labels: {severity: critical}
                exp_annotations:
                  summary: No ready Triton server
                  description: >-
                    No Triton metrics endpoint answers, or the API's health checks find Triton not
                    ready: TTS requests fail with 503.
          - eval_time: 10m
            alertname: QwenTTSEngineSaturated
            exp_alerts: []
      - interval: 1m
        input_series:
          # A backlog of 20 for 4 minutes, then none: the 5-minute average stays at 1 or more for
          # 8 minutes, less than the 10 the alert needs.
          - series: 'qwen_tts_engine_waiting_requests{job="triton",instance="triton-a",model="custom_voice_1_7b"}'
            values: '20 20 20 20 0x26'
          - series: 'up{job="triton"}'
            values: '1x30'
        alert_rule_test:
          - eval_time: 7m
            alertname: QwenTTSEngineSaturated
            exp_alerts: []
          - eval_time: 12m
            alertname: QwenTTSEngineSaturated
            exp_alerts: []
          - eval_time: 25m
            alertname: QwenTTSEngineSaturated
            exp_alerts: []
      - interval: 1m
        input_series:
          # Triton's metrics endpoint answers but the API's health checks find it not ready.
          - series: 'up{job="triton"}'
            values: '1x30'
          - series: 'qwen_tts_triton_ready{job="api",instance="api-1"}'
            values: '0x30'
        alert_rule_test:
          - eval_time: 4m
            alertname: QwenTTSNoTritonReady
            exp_alerts: []
          - eval_time: 10m
            alertname: QwenTTSNoTritonReady
            exp_alerts: *no_triton_ready
    """
)


def test_alerts_fire_on_synthetic_series(tmp_path: Path) -> None:
    write_rules(tmp_path / "rules.yml", yaml.safe_load(COMPOSE_RULES.read_text())["groups"])
    (tmp_path / "test.yml").write_text(ALERT_TESTS)
    out = run_promtool("test", "rules", "test.yml", cwd=tmp_path)
    assert "SUCCESS" in out


MODEL_ALERT_TESTS = textwrap.dedent(
    """
    rule_files:
      - rules.yml
    evaluation_interval: 1m
    tests:
      - interval: 1m
        input_series:
          # custom_voice_1_7b dies once at minute 5 (both replicas see it) and is reloaded within a minute;
          # voice_clone_1_7b dies at minutes 5, 10 and 15 and then stays down (its reloads back off).
          - series: 'qwen_tts_model_deaths_total{job="api",instance="api-1",model="custom_voice_1_7b"}'
            values: '0x4 1x55'
          - series: 'qwen_tts_model_deaths_total{job="api",instance="api-2",model="custom_voice_1_7b"}'
            values: '0x4 1x55'
          - series: 'qwen_tts_model_up{job="api",instance="api-1",model="custom_voice_1_7b"}'
            values: '1x4 0 1x54'
          - series: 'qwen_tts_model_deaths_total{job="api",instance="api-1",model="voice_clone_1_7b"}'
            values: '0x4 1x4 2x4 3x45'
          - series: 'qwen_tts_model_up{job="api",instance="api-1",model="voice_clone_1_7b"}'
            values: '1x4 0x55'
          - series: 'up{job="triton"}'
            values: '1x60'
        alert_rule_test:
          - eval_time: 4m
            alertname: QwenTTSModelDied
            exp_alerts: []
          - eval_time: 7m
            alertname: QwenTTSModelDied
            exp_alerts:
              - exp_labels: {severity: warning, model: custom_voice_1_7b}
                exp_annotations:
                  summary: The backend of custom_voice_1_7b died and was reloaded
                  description: >-
                    The Triton Python backend of custom_voice_1_7b died in the last 15 minutes (OOM
                    killer, CUDA fault); the API reported it down and reloaded it. Look at the Triton
                    pod's memory and logs.
              - exp_labels: {severity: warning, model: voice_clone_1_7b}
                exp_annotations:
                  summary: The backend of voice_clone_1_7b died and was reloaded
                  description: >-
                    The Triton Python backend of voice_clone_1_7b died in the last 15 minutes (OOM
                    killer, CUDA fault); the API reported it down and reloaded it. Look at the Triton
                    pod's memory and logs.
          - eval_time: 12m
            alertname: QwenTTSModelCrashLooping
            exp_alerts: []
          - eval_time: 16m
            alertname: QwenTTSModelCrashLooping
            exp_alerts:
              - exp_labels: {severity: critical, model: voice_clone_1_7b}
                exp_annotations:
                  summary: The backend of voice_clone_1_7b keeps dying
                  description: >-
                    3 deaths of voice_clone_1_7b in 30 minutes (threshold 3): reloads now back off and
                    its requests get 503 meanwhile. Give the Triton pod more memory or fewer resident
                    models.
          - eval_time: 8m
            alertname: QwenTTSModelDown
            exp_alerts: []
          - eval_time: 11m
            alertname: QwenTTSModelDown
            exp_alerts:
              - exp_labels: {severity: critical, model: voice_clone_1_7b}
                exp_annotations:
                  summary: voice_clone_1_7b has been down for 5 minutes
                  description: >-
                    The API reports voice_clone_1_7b down (its backend dead, its reload failing or
                    backing off) for 5 minutes: its requests get 503.
          - eval_time: 40m
            alertname: QwenTTSModelDied
            exp_alerts: []
    """
)


def test_model_death_alerts_fire_on_synthetic_series(tmp_path: Path) -> None:
    write_rules(tmp_path / "rules.yml", yaml.safe_load(COMPOSE_RULES.read_text())["groups"])
    (tmp_path / "test.yml").write_text(MODEL_ALERT_TESTS)
    out = run_promtool("test", "rules", "test.yml", cwd=tmp_path)
    assert "SUCCESS" in out


def test_job_backlog_alert_fires_when_enabled(tmp_path: Path) -> None:
    groups = chart_groups({"prometheusRule": {"jobAlerts": True, "apiJob": "api", "tritonJob": "triton"}})
    write_rules(tmp_path / "rules.yml", groups)
    (tmp_path / "test.yml").write_text(
        textwrap.dedent(
            """
            rule_files: [rules.yml]
            tests:
              - interval: 1m
                input_series:
                  - series: 'qwen_tts_jobs_queue_depth{job="api",instance="a"}'
                    values: '150x30'
                  - series: 'up{job="triton"}'
                    values: '1x30'
                alert_rule_test:
                  - eval_time: 20m
                    alertname: QwenTTSJobBacklogHigh
                    exp_alerts:
                      - exp_labels: {severity: warning}
                        exp_annotations:
                          summary: TTS job backlog is growing
                          description: "150 jobs are waiting (threshold 100) for 15 minutes: add Triton capacity."
            """
        )
    )
    run_promtool("test", "rules", "test.yml", cwd=tmp_path)


def adapter_rule() -> dict[str, Any]:
    """The prometheus-adapter rule the chart README gives for the Triton HPA."""
    section = (CHART / "README.md").read_text().split("### Triton autoscaling", 1)[1]
    rule: dict[str, Any] = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])["rules"]["custom"][0]
    return rule


def test_the_readmes_autoscaling_query_computes_the_row_demand_per_pod(tmp_path: Path) -> None:
    rule = adapter_rule()
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert rule["name"]["as"] == values["triton"]["autoscaling"]["metricName"]
    # What prometheus-adapter substitutes for the HPA's request about the pods of one namespace.
    query = (
        rule["metricsQuery"]
        .replace("<<.GroupBy>>", "pod")
        .replace("<<.LabelMatchers>>", 'namespace="speech",pod=~"triton-a|triton-b"')
    )
    series = {
        # triton-a: custom_voice half full, voice_clone full with 8 requests waiting: its busiest model counts.
        ("triton-a", "custom_voice_1_7b"): (16, 0),
        ("triton-a", "voice_clone_1_7b"): (32, 8),
        ("triton-b", "custom_voice_1_7b"): (8, 0),
    }
    lines = []
    for (pod, model), (active, waiting) in series.items():
        labels = f'job="triton",namespace="speech",pod="{pod}",model="{model}"'
        for name, value in (("active_rows", active), ("waiting_requests", waiting), ("max_rows", 32)):
            lines.append(f"      - series: 'qwen_tts_engine_{name}{{{labels}}}'\n        values: '{value}x10'")
    (tmp_path / "test.yml").write_text(
        textwrap.dedent(
            """
            rule_files: []
            tests:
              - interval: 1m
                input_series:
            {series}
                promql_expr_test:
                  - expr: {query}
                    eval_time: 5m
                    exp_samples:
                      - labels: '{{pod="triton-a"}}'
                        value: 1.25
                      - labels: '{{pod="triton-b"}}'
                        value: 0.25
            """
        ).format(series="\n".join(lines), query=json.dumps(query))
    )
    run_promtool("test", "rules", "test.yml", cwd=tmp_path)
