"""docker-compose.yml and docker-compose.gpu.yml validated against the Compose Specification JSON
schema (the copy vendored in check-jsonschema, `vendor.compose-spec`), and the promises of the
stack checked: health checks, start order, volumes, shm, CPU base and GPU override."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy.chart import CHART, ROOT

BASE = ROOT / "docker-compose.yml"
GPU = ROOT / "docker-compose.gpu.yml"


def compose_schema() -> dict[str, Any]:
    text = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text())
    return data


def merge(base: Any, override: Any) -> Any:
    """Compose's merge for what these files use: mappings merge key by key, the rest is replaced."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {k: merge(base[k], v) if k in base else v for k, v in {**base, **override}.items()}
    return override


@pytest.mark.parametrize("path", [BASE, GPU], ids=lambda p: p.name)
def test_valid_against_the_compose_spec(path: Path) -> None:
    jsonschema.validate(load(path), compose_schema())


def test_the_schema_catches_mistakes() -> None:
    broken = load(BASE)
    broken["services"]["api"]["depends_on"]["triton"]["condition"] = "healthy"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, compose_schema())
    broken = load(BASE)
    broken["services"]["triton"]["shm-size"] = "2gb"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, compose_schema())


def test_services_health_and_start_order() -> None:
    services = load(BASE)["services"]
    assert set(services) == {"triton", "api", "postgres", "prometheus", "grafana"}
    for name, service in services.items():
        assert service["healthcheck"]["test"], name
        assert service.get("image"), name
        for dependency, condition in service.get("depends_on", {}).items():
            assert dependency in services
            assert condition == {"condition": "service_healthy"}, (name, dependency)
    assert set(services["api"]["depends_on"]) == {"triton", "postgres"}
    assert set(services["grafana"]["depends_on"]) == {"prometheus"}


def test_the_api_stops_gracefully_before_dockers_sigkill() -> None:
    api = load(BASE)["services"]["api"]
    drain = int(api["environment"]["GRACEFUL_SHUTDOWN_SECONDS"])  # docker/api-entrypoint.sh: uvicorn's drain
    jobs = int(api["environment"]["QWEN_TTS_JOB_SHUTDOWN_TIMEOUT_SECONDS"])
    assert int(api["stop_grace_period"].removesuffix("s")) >= drain + jobs + 5
    assert '--timeout-graceful-shutdown "${GRACEFUL_SHUTDOWN_SECONDS' in (ROOT / "docker/api-entrypoint.sh").read_text()


def test_volumes_shm_and_cpu_defaults() -> None:
    data = load(BASE)
    services = data["services"]
    triton = services["triton"]
    assert triton["environment"]["QWEN_TTS_DEVICE"] == "cpu"
    assert triton["shm_size"] == "2gb"
    assert "model-cache:/cache" in triton["volumes"]
    assert triton["environment"]["HF_HOME"].startswith("/cache/")
    assert triton["environment"]["QWEN_TTS_WEIGHTS_DIR"] == "/models"
    assert "db-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert {"model-cache", "db-data", "weights"} <= set(data["volumes"])
    api = services["api"]
    assert api["environment"]["QWEN_TTS_TRITON_URL"] == "triton:8001"
    assert api["environment"]["QWEN_TTS_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in api["environment"]["QWEN_TTS_DATABASE_URL"]
    multiproc = api["environment"]["PROMETHEUS_MULTIPROC_DIR"]
    assert any(t.split(":")[0] == multiproc for t in api["tmpfs"])
    # Named volumes used by services are declared, bind mounts point at files of this repository.
    for name, service in services.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), (name, source)
            else:
                assert source in data["volumes"], (name, source)


def test_engine_settings_pass_through_with_the_charts_defaults() -> None:
    environment = load(BASE)["services"]["triton"]["environment"]
    engine = yaml.safe_load((CHART / "values.yaml").read_text())["triton"]["engine"]
    expected = {
        "QWEN_TTS_ENGINE": engine["mode"],
        "QWEN_TTS_MAX_BATCH_ROWS": engine["maxBatchRows"],
        "QWEN_TTS_STREAM_CHUNK_FRAMES": engine["streamChunkFrames"],
    }
    for name, default in expected.items():
        assert environment[name] == f"${{{name}:-{default}}}", name


def test_gpu_override() -> None:
    merged = merge(load(BASE), load(GPU))
    triton = merged["services"]["triton"]
    assert triton["environment"]["QWEN_TTS_DEVICE"] == "cuda"
    assert triton["environment"]["QWEN_TTS_DTYPE"] == "bfloat16"
    device = triton["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and device["capabilities"] == ["gpu"]
    assert triton["shm_size"] == "2gb" and triton["healthcheck"]  # kept from the base file


def test_prometheus_and_grafana_wiring() -> None:
    services = load(BASE)["services"]
    prometheus_mounts = {v.split(":")[0]: v.split(":")[1] for v in services["prometheus"]["volumes"]}
    assert prometheus_mounts["./deploy/prometheus"] == "/etc/prometheus"
    grafana_mounts = {v.split(":")[0]: v.split(":")[1] for v in services["grafana"]["volumes"]}
    assert grafana_mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    dashboards_path = grafana_mounts["./deploy/grafana/dashboards"]
    provider = yaml.safe_load((ROOT / "deploy/grafana/provisioning/dashboards/qwen-tts.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == dashboards_path
    datasource = yaml.safe_load((ROOT / "deploy/grafana/provisioning/datasources/prometheus.yml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"
    assert datasource["datasources"][0]["type"] == "prometheus"
