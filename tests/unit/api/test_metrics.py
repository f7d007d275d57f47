"""api/metrics and api/metrics/serving.py on a throwaway FastAPI app: counts, route-template labels,
404s, helpers, multiprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from api import metrics
from api.metrics import serving

ROOT = Path(__file__).resolve().parents[3]


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def all_label_values(name: str, label: str) -> set[str]:
    found: set[str] = set()
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name.startswith(name) and label in sample.labels:
                found.add(sample.labels[label])
    return found


@pytest.fixture(scope="module")
def client() -> TestClient:
    """Routes as api/main.py mounts them: routers included under the /api/v1 prefix."""
    app = FastAPI()
    app.add_middleware(serving.MetricsMiddleware)
    app.include_router(serving.router)
    voices = APIRouter(prefix="/cloned-voices")

    @voices.get("/{voice_id}")
    async def get_voice(voice_id: str) -> dict[str, str]:
        return {"voice_id": voice_id}

    other = APIRouter()

    @other.post("/boom")
    async def boom() -> None:
        raise RuntimeError("unhandled")

    @other.get("/health/live")
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    app.include_router(voices, prefix="/api/v1")
    app.include_router(other, prefix="/api/v1")
    return TestClient(app, raise_server_exceptions=False)


def test_counts_by_route_template_not_raw_path(client: TestClient) -> None:
    route = "/api/v1/cloned-voices/{voice_id}"
    before = value("qwen_tts_http_requests_total", route=route, method="GET", status="200")
    hist_before = value("qwen_tts_http_request_duration_seconds_count", route=route, method="GET")
    for voice in ("abc", "def-123", "x" * 40):
        assert client.get(f"/api/v1/cloned-voices/{voice}").status_code == 200
    assert value("qwen_tts_http_requests_total", route=route, method="GET", status="200") == before + 3
    assert value("qwen_tts_http_request_duration_seconds_count", route=route, method="GET") == hist_before + 3
    routes = all_label_values("qwen_tts_http_request", "route")
    assert not any("abc" in r or "def-123" in r for r in routes), routes


def test_404_is_labelled_unmatched_without_the_raw_path(client: TestClient) -> None:
    before = value("qwen_tts_http_requests_total", route="<unmatched>", method="GET", status="404")
    assert client.get("/no/such/path/secret-token-42").status_code == 404
    assert value("qwen_tts_http_requests_total", route="<unmatched>", method="GET", status="404") == before + 1
    assert not any("secret-token-42" in r for r in all_label_values("qwen_tts_http_request", "route"))


def test_wrong_method_and_unknown_method_are_bounded(client: TestClient) -> None:
    route = "/api/v1/cloned-voices/{voice_id}"
    before_405 = value("qwen_tts_http_requests_total", route=route, method="DELETE", status="405")
    assert client.delete("/api/v1/cloned-voices/abc").status_code == 405
    assert value("qwen_tts_http_requests_total", route=route, method="DELETE", status="405") == before_405 + 1
    client.request("FROBNICATE", "/api/v1/cloned-voices/abc")
    assert "FROBNICATE" not in all_label_values("qwen_tts_http_request", "method")
    assert "OTHER" in all_label_values("qwen_tts_http_request", "method")


def test_unhandled_exception_counts_as_500(client: TestClient) -> None:
    before = value("qwen_tts_http_requests_total", route="/api/v1/boom", method="POST", status="500")
    assert client.post("/api/v1/boom").status_code == 500
    assert value("qwen_tts_http_requests_total", route="/api/v1/boom", method="POST", status="500") == before + 1
    assert client.get("/api/v1/health/live").status_code == 200
    assert value("qwen_tts_http_requests_total", route="/api/v1/health/live", method="GET", status="200") >= 1
    assert value("qwen_tts_inflight_requests") == 0


def test_metrics_endpoint_exposes_text_and_is_not_counted(client: TestClient) -> None:
    client.get("/api/v1/cloned-voices/abc")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    body = response.text
    assert "# TYPE qwen_tts_http_requests_total counter" in body
    assert "# TYPE qwen_tts_http_request_duration_seconds histogram" in body
    assert 'route="/api/v1/cloned-voices/{voice_id}"' in body
    assert 'route="/metrics"' not in body


def test_route_template_without_fastapi_context() -> None:
    """Older FastAPI: scope["route"] is the prefixed route; newer: the static prefix is recovered."""

    class Route:
        def __init__(self, template: str) -> None:
            import re

            self.path_format = template
            self.path_regex = re.compile("^" + re.sub(r"{[^}]+}", "[^/]+", template) + "$")

    route = Route("/cloned-voices/{voice_id}")
    scope = {"route": route, "path": "/api/v1/cloned-voices/abc", "path_params": {"voice_id": "abc"}}
    assert serving.route_template(scope) == "/api/v1/cloned-voices/{voice_id}"
    scope = {"route": route, "path": "/cloned-voices/abc", "path_params": {"voice_id": "abc"}}
    assert serving.route_template(scope) == "/cloned-voices/{voice_id}"
    scope = {"route": route, "path": "/t/abc/cloned-voices/abc", "path_params": {"voice_id": "abc"}}
    assert serving.route_template(scope) == "/<prefix>/cloned-voices/{voice_id}"
    assert serving.route_template({"path": "/x"}) == "<unmatched>"


def test_helpers_record_triton_audio_and_encoding() -> None:
    model = "custom_voice_1_7b"
    ok_before = value("qwen_tts_triton_request_duration_seconds_count", model=model, outcome="success")
    metrics.observe_triton(model, "success", 1.5)
    assert value("qwen_tts_triton_request_duration_seconds_count", model=model, outcome="success") == ok_before + 1

    class Unavailable(Exception):
        status_code = 503

    class Invalid(Exception):
        status_code = 422

    for exc, outcome in ((Unavailable("down"), "unavailable"), (Invalid("bad"), "rejected"), (KeyError("x"), "error")):
        before = value("qwen_tts_triton_request_duration_seconds_count", model=model, outcome=outcome)
        with pytest.raises(type(exc)), metrics.track_triton(model):
            raise exc
        assert value("qwen_tts_triton_request_duration_seconds_count", model=model, outcome=outcome) == before + 1
    with metrics.track_triton(model):
        pass
    assert value("qwen_tts_triton_request_duration_seconds_count", model=model, outcome="success") == ok_before + 2
    metrics.observe_triton(model, "made-up", 0.1)
    assert "made-up" not in all_label_values("qwen_tts_triton_request_duration_seconds", "outcome")

    audio_before = value("qwen_tts_audio_generated_seconds_total", model=model)
    metrics.observe_audio(model, 2.25)
    metrics.observe_audio(model, 0.0)
    assert value("qwen_tts_audio_generated_seconds_total", model=model) == pytest.approx(audio_before + 2.25)

    enc_before = value("qwen_tts_audio_encoding_duration_seconds_count", format="ogg")
    metrics.observe_encoding("ogg", 0.03)
    assert value("qwen_tts_audio_encoding_duration_seconds_count", format="ogg") == enc_before + 1
    assert value("qwen_tts_audio_encoding_duration_seconds_bucket", format="ogg", le="0.05") >= 1


def test_triton_ready_gauge() -> None:
    metrics.observe_triton_ready(False)
    assert value("qwen_tts_triton_ready") == 0
    metrics.observe_triton_ready(True)
    assert value("qwen_tts_triton_ready") == 1


def test_metric_names_follow_conventions() -> None:
    families = {f.name: f for f in REGISTRY.collect() if f.name.startswith("qwen_tts_")}
    for name in metrics.METRIC_NAMES:
        base = name.removesuffix("_total")
        assert base in families, name
        family = families[base]
        if family.type == "counter":
            assert name.endswith("_total"), name
        if family.type == "histogram":
            assert name.endswith("_seconds"), name
    assert metrics.HTTP_BUCKETS[0] <= 0.01 and metrics.HTTP_BUCKETS[-1] >= 300
    assert metrics.TRITON_BUCKETS[0] <= 0.1 and metrics.TRITON_BUCKETS[-1] >= 300
    assert metrics.JOB_WAIT_BUCKETS[0] <= 0.25 and metrics.JOB_WAIT_BUCKETS[-1] >= 3600
    assert metrics.JOB_DURATION_BUCKETS[-1] >= metrics.TRITON_BUCKETS[-1]
    for buckets in (metrics.JOB_WAIT_BUCKETS, metrics.JOB_DURATION_BUCKETS):
        assert list(buckets) == sorted(set(buckets))


def test_job_helpers_record_claims_ends_and_bounded_outcomes() -> None:
    before = value("qwen_tts_job_retries_total", job_type="voice_design")
    waits = value("qwen_tts_job_queue_wait_seconds_count", job_type="voice_design")
    metrics.observe_job_claim("voice_design", waited_seconds=3.0, retry=False)
    metrics.observe_job_claim("voice_design", waited_seconds=99.0, retry=True)  # a retry is not a wait
    assert value("qwen_tts_job_queue_wait_seconds_count", job_type="voice_design") == waits + 1
    assert value("qwen_tts_job_retries_total", job_type="voice_design") == before + 1
    metrics.observe_job_end("voice_design", "cancelled", 0.5)
    labels = {"job_type": "voice_design", "outcome": "cancelled", "le": "0.5"}
    assert (REGISTRY.get_sample_value("qwen_tts_job_duration_seconds_bucket", labels) or 0) >= 1
    with pytest.raises(ValueError):
        metrics.observe_job_end("voice_design", "exploded", 1.0)


MULTIPROC_SCRIPT = textwrap.dedent(
    """
    import multiprocessing as mp
    import os, sys

    from fastapi import APIRouter, FastAPI
    from fastapi.testclient import TestClient

    from api import metrics
    from api.metrics import serving

    def app():
        app = FastAPI()
        app.add_middleware(serving.MetricsMiddleware)
        app.include_router(serving.router)

        @app.get("/items/{item_id}")
        async def item(item_id: str):
            return {}

        return app

    def worker(n, leave_inflight):
        client = TestClient(app())
        for i in range(n):
            client.get(f"/items/{i}")
        metrics.observe_audio("custom_voice_1_7b", 1.5)
        metrics.observe_job_end("custom_voice", "completed", 2.0)
        metrics.set_store_gauges({"pending": 4, "completed": 9}, 2)  # both read the same database
        if leave_inflight:
            metrics.INFLIGHT.inc()  # a worker that dies mid-request

    if __name__ == "__main__":
        ctx = mp.get_context("fork")
        procs = [ctx.Process(target=worker, args=(n, n == 3)) for n in (2, 3)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
            assert p.exitcode == 0
        files = sorted(os.listdir(os.environ["PROMETHEUS_MULTIPROC_DIR"]))
        print("FILES", " ".join(files))
        print(serving.metrics_response().body.decode())
        for p in procs:
            serving.mark_worker_exit(p.pid)
        print("AFTER_EXIT")
        print(serving.metrics_response().body.decode())
    """
)


def sample(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} not in:\n{text}")


def test_multiprocess_mode_adds_up_workers(tmp_path: Path) -> None:
    script = tmp_path / "mp_metrics.py"
    script.write_text(MULTIPROC_SCRIPT)
    mp_dir = tmp_path / "prom"
    mp_dir.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(mp_dir), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(script)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    before, after = done.stdout.split("AFTER_EXIT")
    assert ".db" in before.splitlines()[0]
    requests = 'qwen_tts_http_requests_total{method="GET",route="/items/{item_id}",status="200"}'
    assert sample(before, requests) == 5.0
    assert sample(before, 'qwen_tts_audio_generated_seconds_total{model="custom_voice_1_7b"}') == 3.0
    assert sample(before, "qwen_tts_inflight_requests") == 1.0
    assert sample(after, "qwen_tts_inflight_requests") == 0.0
    assert sample(after, requests) == 5.0  # counters survive their worker
    # job histograms add up; the database gauges show the database's value, not the sum of readers
    job_count = 'qwen_tts_job_duration_seconds_count{job_type="custom_voice",outcome="completed"}'
    assert sample(before, job_count) == 2.0 and sample(after, job_count) == 2.0
    assert sample(before, "qwen_tts_jobs_queue_depth") == 4.0
    assert sample(before, 'qwen_tts_jobs{state="completed"}') == 9.0
    assert sample(before, 'qwen_tts_jobs{state="failed"}') == 0.0
    assert sample(before, "qwen_tts_cloned_voices") == 2.0
    assert not any(line.startswith("qwen_tts_jobs_queue_depth ") for line in after.splitlines())  # live: gone
