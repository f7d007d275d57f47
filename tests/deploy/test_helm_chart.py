"""The Helm chart rendered by Helm's engine for its defaults and every ci/*-values.yaml, each object
validated against the Kubernetes JSON schemas (strict), the prometheus-operator objects against
the CRD models, and the behaviour the values promise checked on the rendered objects."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.auth import OPEN_PATHS
from tests.deploy.chart import (
    CHART,
    CI_VALUES,
    KUBE_VERSION,
    NAMESPACE,
    RELEASE,
    ROOT,
    Rendered,
    load_values,
    render,
    strip_internal,
    validate_schema,
)
from tts_engine.config import parse_engine_config
from tts_engine.serving.server_info import read_model_config

CI_IDS = [p.name for p in CI_VALUES]
K8S_VERSIONS = ("1.29.0", KUBE_VERSION.removeprefix("v"), "1.37.0")
CRD_KINDS = {"ServiceMonitor", "PodMonitor", "PrometheusRule"}
MONITORING_KINDS = CRD_KINDS


def test_ci_values_cover_the_main_setups() -> None:
    names = {p.name for p in CI_VALUES}
    assert {"default-values.yaml", "gpu-values.yaml", "postgres-values.yaml", "monitoring-values.yaml"} <= names


def test_chart_metadata_and_lint() -> None:
    import helm_python as helm

    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2" and chart["type"] == "application"
    report = helm.lint(str(CHART), strict=True, kube_version=KUBE_VERSION)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not report["errors"] and not problems, report
    for path in CI_VALUES:
        report = helm.lint(str(CHART), load_values(path), strict=True, kube_version=KUBE_VERSION)
        assert not report["errors"] and not [m for m in report["messages"] if m["severity"] >= 2], (path, report)


def test_helm_create_conventions() -> None:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert {"imagePullSecrets", "serviceAccount", "nameOverride", "fullnameOverride"} <= set(values)
    usual = {
        "image",
        "podAnnotations",
        "podSecurityContext",
        "securityContext",
        "resources",
        "autoscaling",
        "nodeSelector",
        "tolerations",
        "affinity",
        "service",
        "replicaCount",
    }
    assert usual <= set(values["api"]) and usual <= set(values["triton"])
    assert "ingress" in values["api"]
    for name in ("_helpers.tpl", "NOTES.txt", "tests/test-connection.yaml"):
        assert (CHART / "templates" / name).is_file(), name
    helpers = (CHART / "templates" / "_helpers.tpl").read_text()
    for define in (
        "qwen-tts.name",
        "qwen-tts.fullname",
        "qwen-tts.chart",
        "qwen-tts.labels",
        "qwen-tts.selectorLabels",
        "qwen-tts.serviceAccountName",
    ):
        assert f'define "{define}"' in helpers


@pytest.mark.parametrize("path", CI_VALUES, ids=CI_IDS)
def test_ci_values_pass_the_values_schema(path: Path) -> None:
    validate_schema(load_values(path))


@pytest.mark.parametrize(
    "bad",
    [
        {"triton": {"dtype": "int8"}},
        {"triton": {"models": ["custom_voice_9b"]}},
        {"api": {"service": {"port": 0}}},
        {"api": {"image": {"digest": "latest"}}},
        {"api": {"auth": {"enabled": "yes"}}},
        {"api": {"auth": {"adminKeySecret": "qwen-tts-admin-key"}}},
        {"prometheusRule": {"jobAlert": True}},
        {"prometheusRule": {"thresholds": {"tritonQueueSeconds": 2}}},  # gone: the decoupled models' queue is ~0
        {"triton": {"engine": {"mode": "dynamic"}}},
        {"triton": {"engine": {"maxBatchRows": -1}}},
        {"triton": {"engine": {"streamChunkFrames": "8"}}},
        {"api": {"metrics": {"port": 70000}}},
        {"api": {"metrics": {"port": "9464"}}},
        {"api": {"metrics": {"path": "/metrics"}}},
        {"unknownTopLevel": 1},
    ],
)
def test_values_schema_rejects_mistakes(bad: dict[str, Any]) -> None:
    import helm_python as helm

    with pytest.raises(helm.HelmError):
        validate_schema(bad)


def k8s_validate(obj: dict[str, Any], version: str) -> None:
    import kubernetes_validate

    kubernetes_validate.validate(strip_internal(obj), version, strict=True)


def crd_validate(obj: dict[str, Any]) -> None:
    """Validate a prometheus-operator object with the models generated from its CRDs (v0.80.1),
    and reject keys the models do not know (pydantic would silently drop them)."""
    from cloudcoil.models.prometheus_operator import v1

    model = getattr(v1, obj["kind"]).model_validate(strip_internal(obj))
    dumped = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert unknown_keys(strip_internal(obj), dumped) == [], obj["kind"]


def unknown_keys(given: Any, kept: Any, path: str = "") -> list[str]:
    if isinstance(given, dict) and isinstance(kept, dict):
        missing = [f"{path}.{k}" for k in given if k not in kept and k != "metadata"]
        return missing + [
            p for k in given if k in kept and k != "metadata" for p in unknown_keys(given[k], kept[k], f"{path}.{k}")
        ]
    if isinstance(given, list) and isinstance(kept, list):
        return [
            p for i, (g, k) in enumerate(zip(given, kept, strict=False)) for p in unknown_keys(g, k, f"{path}[{i}]")
        ]
    return []


@pytest.mark.parametrize("monitoring", [False, True], ids=["plain", "monitoring-api"])
@pytest.mark.parametrize("path", CI_VALUES, ids=CI_IDS)
def test_every_rendered_object_is_valid(path: Path, monitoring: bool) -> None:
    rendered = render(load_values(path), monitoring=monitoring)
    objects = rendered.objects
    assert objects
    kinds = {o["kind"] for o in objects}
    assert {"Deployment", "Service", "ServiceAccount", "Pod", "ConfigMap"} <= kinds
    if monitoring:
        assert {"ServiceMonitor", "PrometheusRule"} <= kinds
    else:
        assert not kinds & MONITORING_KINDS, "monitoring objects need the monitoring.coreos.com/v1 API"
    for obj in objects:
        assert obj["metadata"]["name"], obj
        assert "app.kubernetes.io/name" in obj["metadata"]["labels"], obj["metadata"]["name"]
        assert "app.kubernetes.io/instance" in obj["metadata"]["labels"]
        if obj["kind"] in CRD_KINDS:
            crd_validate(obj)
        else:
            for version in K8S_VERSIONS:
                k8s_validate(obj, version)
    names = [(o["kind"], o["metadata"]["name"]) for o in objects]
    assert len(names) == len(set(names)), names
    assert "tts" in rendered.notes


def test_crd_validation_catches_mistakes() -> None:
    rendered = render(monitoring=True)
    monitor = json.loads(json.dumps(rendered.get("ServiceMonitor", "-api")))
    monitor["spec"]["endpoints"][0]["intervall"] = "30s"
    with pytest.raises(AssertionError):
        crd_validate(monitor)
    rule = json.loads(json.dumps(rendered.get("PrometheusRule")))
    rule["spec"]["groups"][0]["rules"][0]["for"] = "ten minutes"
    with pytest.raises(Exception, match="pattern"):
        crd_validate(rule)


def test_k8s_validation_catches_mistakes() -> None:
    import kubernetes_validate

    deployment = json.loads(json.dumps(strip_internal(render().get("Deployment", "-triton"))))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenessProbes"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.31.0", strict=True)


def containers(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}


def env(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env", [])}


def volumes(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}


def test_triton_deployment_defaults() -> None:
    rendered = render()
    triton = rendered.get("Deployment", "-triton")
    pod = triton["spec"]["template"]["spec"]
    container = containers(triton)["triton"]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
    assert container["startupProbe"]["httpGet"]["path"] == "/v2/health/ready"
    # ready once started even while the healer reloads one model (Triton's ready is false meanwhile)
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    startup = container["startupProbe"]
    assert startup["failureThreshold"] * startup["periodSeconds"] >= 600, "model loading takes minutes"
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {"http": 8000, "grpc": 8001, "metrics": 8002}
    vols = volumes(triton)
    assert vols["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "2Gi"}
    assert {"name": "dshm", "mountPath": "/dev/shm"} in container["volumeMounts"]
    assert (
        vols["model-cache"]["persistentVolumeClaim"]["claimName"]
        == rendered.get("PersistentVolumeClaim", "-model-cache")["metadata"]["name"]
    )
    variables = env(container)
    assert variables["HF_HOME"] == "/cache/huggingface"
    assert variables["QWEN_TTS_MODELS"].split(",")[0] == "custom_voice_1_7b"
    # The generation loop's settings: by default what the model configs say without them.
    model_config = read_model_config(ROOT / "model_repository" / "custom_voice_1_7b" / "config.pbtxt")
    config = parse_engine_config(model_config, env={})
    assert variables["QWEN_TTS_ENGINE"] == config.engine == "continuous"
    assert variables["QWEN_TTS_MAX_BATCH_ROWS"] == str(config.max_batch_rows)
    assert variables["QWEN_TTS_STREAM_CHUNK_FRAMES"] == str(config.stream_chunk_frames)
    assert "QWEN_TTS_WEIGHTS_DIR" not in variables
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False


def test_triton_gpu_values() -> None:
    rendered = render(load_values(CHART / "ci" / "gpu-values.yaml"))
    triton = rendered.get("Deployment", "-triton")
    container = containers(triton)["triton"]
    assert triton["spec"]["replicas"] == 2
    assert triton["spec"]["template"]["spec"]["nodeSelector"] == {"nvidia.com/gpu.present": "true"}
    variables = env(container)
    assert variables["QWEN_TTS_DTYPE"] == "bfloat16" and variables["QWEN_TTS_DEVICE"] == "cuda"
    assert variables["QWEN_TTS_WEIGHTS_DIR"] == "/models"
    assert variables["QWEN_TTS_MAX_BATCH_ROWS"] == "48" and variables["QWEN_TTS_STREAM_CHUNK_FRAMES"] == "4"
    weights = volumes(triton)["weights"]["persistentVolumeClaim"]
    assert weights == {"claimName": "qwen-tts-weights", "readOnly": True}
    assert rendered.get("PersistentVolumeClaim", "-model-cache")["spec"]["accessModes"] == ["ReadWriteMany"]


def test_triton_on_cpu_requests_no_gpu() -> None:
    rendered = render(load_values(CHART / "ci" / "cpu-values.yaml"))
    container = containers(rendered.get("Deployment", "-triton"))["triton"]
    assert "nvidia.com/gpu" not in json.dumps(container["resources"])
    assert env(container)["QWEN_TTS_DEVICE"] == "cpu"
    assert "persistentVolumeClaim" not in volumes(rendered.get("Deployment", "-triton"))["model-cache"]


def test_api_deployment_defaults_sqlite_single_replica() -> None:
    rendered = render()
    api = rendered.get("Deployment", "-api")
    container = containers(api)["api"]
    assert api["spec"]["replicas"] == 1
    assert api["spec"]["strategy"] == {"type": "Recreate"}
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/v1/health"
    assert container["livenessProbe"]["httpGet"]["path"] == "/api/v1/health/live"
    variables = env(container)
    assert variables["QWEN_TTS_TRITON_URL"] == f"{RELEASE}-qwen-tts-triton:8001"
    assert variables["QWEN_TTS_DATA_DIR"] == "/data"
    assert "QWEN_TTS_DATABASE_URL" not in variables
    assert variables["PROMETHEUS_MULTIPROC_DIR"] == "/run/prometheus-multiproc"
    vols = volumes(api)
    assert vols["prometheus-multiproc"]["emptyDir"]["medium"] == "Memory"
    assert (
        vols["data"]["persistentVolumeClaim"]["claimName"]
        == rendered.get("PersistentVolumeClaim", "-api-data")["metadata"]["name"]
    )
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert "HorizontalPodAutoscaler" not in rendered.kinds()
    service = rendered.get("Service", "-api")
    assert service["spec"]["ports"] == [{"port": 8080, "targetPort": "http", "protocol": "TCP", "name": "http"}]


def test_api_with_postgres_secret_autoscaling_and_ingress() -> None:
    rendered = render(load_values(CHART / "ci" / "postgres-values.yaml"))
    api = rendered.get("Deployment", "-api")
    container = containers(api)["api"]
    assert "replicas" not in api["spec"] and "strategy" not in api["spec"]
    assert env(container)["QWEN_TTS_DATABASE_URL"] == {"secretKeyRef": {"name": "qwen-tts-db", "key": "database-url"}}
    assert "data" not in volumes(api)
    assert not [o for o in rendered.objects if o["kind"] == "PersistentVolumeClaim" and "-api" in o["metadata"]["name"]]
    hpa = rendered.get("HorizontalPodAutoscaler", "-api")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"]["name"] == api["metadata"]["name"]
    assert {m["resource"]["name"] for m in hpa["spec"]["metrics"]} == {"cpu", "memory"}
    ingress = rendered.get("Ingress")
    assert ingress["spec"]["tls"][0]["secretName"] == "tts-example-tls"
    assert container["image"].endswith("@sha256:" + "0" * 64)


def api_container(values: dict[str, Any] | None = None) -> dict[str, Any]:
    return containers(render(values).get("Deployment", "-api"))["api"]


def test_api_keys_are_required_by_default_and_the_admin_key_comes_from_a_secret() -> None:
    variables = env(api_container())
    assert variables["QWEN_TTS_AUTH_ENABLED"] == "true"
    assert "QWEN_TTS_ADMIN_API_KEY" not in variables  # no bootstrap key unless a Secret is named
    postgres = env(api_container(load_values(CHART / "ci" / "postgres-values.yaml")))
    assert postgres["QWEN_TTS_AUTH_ENABLED"] == "true"
    assert postgres["QWEN_TTS_ADMIN_API_KEY"] == {
        "secretKeyRef": {"name": "qwen-tts-admin-key", "key": "admin-api-key"}
    }
    assert env(api_container({"api": {"auth": {"enabled": False}}}))["QWEN_TTS_AUTH_ENABLED"] == "false"
    # The probes and the helm test hook use only the routes open without a key.
    api = api_container()
    assert {api["readinessProbe"]["httpGet"]["path"], api["livenessProbe"]["httpGet"]["path"]} <= OPEN_PATHS
    hook = render().get("Pod", "-test-connection")["spec"]["containers"][0]["args"][0]
    hook_paths = set(re.findall(r":\d+(/api/[^ ]*)", hook))
    assert hook_paths and hook_paths <= OPEN_PATHS, hook_paths


def test_several_api_replicas_without_a_database_fail() -> None:
    import helm_python as helm

    for values in ({"api": {"replicaCount": 2}}, {"api": {"autoscaling": {"enabled": True}}}):
        with pytest.raises(helm.HelmError, match="external database"):
            render(values)


def test_services_select_their_pods_and_name_their_ports() -> None:
    rendered = render()
    for component in ("api", "triton"):
        deployment = rendered.get("Deployment", f"-{component}")
        service = rendered.get("Service", f"-{component}")
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert service["spec"]["selector"]["app.kubernetes.io/component"] == component
        assert all(p.get("name") for p in service["spec"]["ports"])
    triton_ports = {p["name"]: p["port"] for p in rendered.get("Service", "-triton")["spec"]["ports"]}
    assert triton_ports == {"http": 8000, "grpc": 8001, "metrics": 8002}


def test_triton_engine_settings_only_through_their_values() -> None:
    import helm_python as helm

    with pytest.raises(helm.HelmError, match=r"triton\.engine"):
        render({"triton": {"env": {"QWEN_TTS_MAX_BATCH_ROWS": "16"}}})


def test_triton_row_demand_autoscaler_is_off_by_default_and_documented() -> None:
    assert "HorizontalPodAutoscaler" not in render().kinds()
    rendered = render(load_values(CHART / "ci" / "monitoring-values.yaml"), monitoring=True)
    hpa = rendered.get("HorizontalPodAutoscaler", "-triton")
    metric = hpa["spec"]["metrics"][0]
    assert metric["type"] == "Pods"
    assert metric["pods"]["metric"]["name"] == "qwen_tts_engine_row_demand"
    assert metric["pods"]["target"] == {"type": "AverageValue", "averageValue": "750m"}
    assert "replicas" not in rendered.get("Deployment", "-triton")["spec"]
    readme = (CHART / "README.md").read_text()
    assert "qwen_tts_engine_row_demand" in readme and "qwen_tts_engine_waiting_requests" in readme


def test_monitoring_objects_need_the_api_and_carry_extra_labels() -> None:
    values = load_values(CHART / "ci" / "monitoring-values.yaml")
    assert not {o["kind"] for o in render(values).objects} & MONITORING_KINDS
    rendered = render(values, monitoring=True)
    monitors = [o for o in rendered.objects if o["kind"] == "ServiceMonitor"]
    assert {m["spec"]["endpoints"][0]["port"] for m in monitors} == {"http", "metrics"}
    for obj in [*monitors, rendered.get("PrometheusRule")]:
        assert obj["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    for monitor in monitors:
        assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
        service = next(
            s
            for s in rendered.objects
            if s["kind"] == "Service"
            and monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
        )
        assert monitor["spec"]["endpoints"][0]["port"] in {p["name"] for p in service["spec"]["ports"]}
    disabled = render({"serviceMonitor": {"enabled": False}, "prometheusRule": {"enabled": False}}, monitoring=True)
    assert not {o["kind"] for o in disabled.objects} & MONITORING_KINDS


def test_api_metrics_on_the_api_port_by_default() -> None:
    values = load_values(CHART / "ci" / "monitoring-values.yaml")
    rendered = render(values, monitoring=True)
    container = containers(rendered.get("Deployment", "-api"))["api"]
    assert "QWEN_TTS_METRICS_PORT" not in env(container)
    assert [p["name"] for p in container["ports"]] == ["http"]
    assert [p["name"] for p in rendered.get("Service", "-api")["spec"]["ports"]] == ["http"]
    endpoint = rendered.get("ServiceMonitor", "-api")["spec"]["endpoints"]
    assert [(e["port"], e["path"]) for e in endpoint] == [("http", "/metrics")]
    assert ":8080/metrics" in rendered.notes


def test_api_metrics_port_moves_the_scrape_off_the_api_port() -> None:
    values = load_values(CHART / "ci" / "monitoring-values.yaml")
    values["api"] = {**values.get("api", {}), "metrics": {"port": 9464}}
    validate_schema(values)
    rendered = render(values, monitoring=True)
    deployment = rendered.get("Deployment", "-api")
    container = containers(deployment)["api"]
    assert env(container)["QWEN_TTS_METRICS_PORT"] == "9464"
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": 8080, "metrics": 9464}
    # The probes stay on the API port.
    assert container["readinessProbe"]["httpGet"]["port"] == "http"
    service = rendered.get("Service", "-api")
    assert {"port": 9464, "targetPort": "metrics", "protocol": "TCP", "name": "metrics"} in service["spec"]["ports"]
    assert {"port": 8080, "targetPort": "http", "protocol": "TCP", "name": "http"} in service["spec"]["ports"]
    monitor = rendered.get("ServiceMonitor", "-api")
    assert [(e["port"], e["path"]) for e in monitor["spec"]["endpoints"]] == [("metrics", "/metrics")]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    # Triton's monitor is unchanged.
    assert rendered.get("ServiceMonitor", "-triton")["spec"]["endpoints"][0]["port"] == "metrics"
    # An Ingress in front of the API routes to the http port only.
    with_ingress = render({"api": {"metrics": {"port": 9464}, "ingress": {"enabled": True}}})
    backends = {
        p["backend"]["service"]["port"].get("number", p["backend"]["service"]["port"].get("name"))
        for rule in with_ingress.get("Ingress")["spec"]["rules"]
        for p in rule["http"]["paths"]
    }
    assert backends and 9464 not in backends and "metrics" not in backends
    assert ":9464" in rendered.notes and "/health/live and /metrics" not in rendered.notes
    for obj in (deployment, service):
        for version in K8S_VERSIONS:
            k8s_validate(obj, version)
    crd_validate(monitor)


def test_api_metrics_port_only_through_its_value() -> None:
    import helm_python as helm

    with pytest.raises(helm.HelmError, match=r"api\.metrics\.port"):
        render({"api": {"env": {"QWEN_TTS_METRICS_PORT": "9464"}}})
    with pytest.raises(helm.HelmError, match=r"api\.metrics\.port"):
        render({"api": {"metrics": {"port": 8080}}})


def alert_names(rendered: Rendered) -> set[str]:
    rule = rendered.get("PrometheusRule")
    return {r["alert"] for group in rule["spec"]["groups"] for r in group["rules"]}


def test_alerts_and_the_job_backlog_gate() -> None:
    default = alert_names(render(monitoring=True))
    assert default == {
        "QwenTTSEngineSaturated",
        "QwenTTSInferenceFailureRate",
        "QwenTTSTritonRequestFailures",
        "QwenTTSNoTritonReady",
        "QwenTTSModelDied",  # the healer's (api/healing): a backend died and was reloaded
        "QwenTTSModelCrashLooping",
        "QwenTTSModelDown",
        "QwenTTSJobBacklogHigh",  # on by default: qwen_tts_jobs_queue_depth exists
    }
    ungated = alert_names(render({"prometheusRule": {"jobAlerts": False}}, monitoring=True))
    assert ungated == default - {"QwenTTSJobBacklogHigh"}


def test_dashboard_configmap_is_the_dashboard_file() -> None:
    configmap = render().get("ConfigMap", "-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads((CHART / "dashboards" / "qwen-tts.json").read_text())
    assert json.loads(configmap["data"]["qwen-tts.json"]) == shipped
    assert "ConfigMap" not in render({"grafanaDashboard": {"enabled": False}}).kinds()


def test_test_hook_checks_api_and_triton() -> None:
    pod = render().get("Pod", "-test-connection")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    script = " ".join(pod["spec"]["containers"][0]["args"])
    for url in ("/api/v1/health/live", "/api/v1/health", "/v2/health/ready"):
        assert url in script


def test_dedicated_workers_run_the_jobs_and_scale_on_the_queue_depth() -> None:
    import helm_python as helm

    assert not [o for o in render().objects if o["metadata"]["name"].endswith("-worker")], "off by default"
    with pytest.raises(helm.HelmError, match="external database"):
        render({"worker": {"enabled": True}})
    rendered = render(load_values(CHART / "ci" / "workers-values.yaml"), monitoring=True)
    worker = containers(rendered.get("Deployment", "-worker"))["worker"]
    assert worker["command"] == ["python", "-m", "api.jobs.worker"]
    variables = env(worker)
    assert variables["QWEN_TTS_DATABASE_URL"]["secretKeyRef"]["name"] == "qwen-tts-db"
    assert variables["QWEN_TTS_TRITON_URL"] == "tts-qwen-tts-triton:8001"
    assert variables["QWEN_TTS_WORKER_METRICS_PORT"] == "9465"
    assert variables["QWEN_TTS_BATCH_CONCURRENCY"] == "32"
    assert variables["QWEN_TTS_BATCH_MAX_RUNNING_ITEMS"] == "28", "the API's settings apply to workers"
    api = env(containers(rendered.get("Deployment", "-api"))["api"])
    assert api["QWEN_TTS_JOB_WORKERS_ENABLED"] == "false", "the API pods only accept jobs"
    hpa = rendered.get("HorizontalPodAutoscaler", "-worker")
    assert hpa["spec"]["metrics"] == [
        {"type": "External", "external": {"metric": {"name": "qwen_tts_jobs_queue_depth"},
                                          "target": {"type": "AverageValue", "averageValue": "1000"}}}
    ]  # fmt: skip
    assert "replicas" not in rendered.get("Deployment", "-worker")["spec"]
    monitor = rendered.get("ServiceMonitor", "-worker")
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    service = rendered.get("Service", "-worker")
    assert service["spec"]["selector"] == monitor["spec"]["selector"]["matchLabels"]
    readme = (CHART / "README.md").read_text()
    assert "qwen_tts_jobs_queue_depth" in readme and "external.metrics.k8s.io" in readme


def test_api_graceful_shutdown_fits_the_termination_grace_period() -> None:
    """preStop, then the HTTP drain, then the running jobs: the kubelet's SIGKILL comes after all three."""
    import helm_python as helm

    rendered = render({"api": {"shutdown": {"preStopSeconds": 7, "drainSeconds": 40, "jobsSeconds": 15}}})
    api = rendered.get("Deployment", "-api")
    container = containers(api)["api"]
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sleep", "7"]
    variables = env(container)
    assert variables["GRACEFUL_SHUTDOWN_SECONDS"] == "40"  # docker/api-entrypoint.sh: uvicorn's drain
    assert variables["QWEN_TTS_JOB_SHUTDOWN_TIMEOUT_SECONDS"] == "15"
    grace = api["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    assert grace >= 7 + 40 + 15 + 5
    default = render().get("Deployment", "-api")
    defaults = containers(default)["api"]
    sleep = int(defaults["lifecycle"]["preStop"]["exec"]["command"][1])
    drain = int(env(defaults)["GRACEFUL_SHUTDOWN_SECONDS"])
    jobs = int(env(defaults)["QWEN_TTS_JOB_SHUTDOWN_TIMEOUT_SECONDS"])
    assert default["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= sleep + drain + jobs + 5
    with pytest.raises(helm.HelmError, match="terminationGracePeriodSeconds"):
        render({"api": {"terminationGracePeriodSeconds": 60}})
    with pytest.raises(helm.HelmError, match=r"api\.shutdown\.drainSeconds"):
        render({"api": {"env": {"GRACEFUL_SHUTDOWN_SECONDS": "300"}}})
    # dedicated workers: the same jobs timeout, within their own grace period
    workers = load_values(CHART / "ci" / "workers-values.yaml")
    worker = containers(render(workers).get("Deployment", "-worker"))["worker"]
    assert env(worker)["QWEN_TTS_JOB_SHUTDOWN_TIMEOUT_SECONDS"] == "20"
    with pytest.raises(helm.HelmError, match=r"worker\.terminationGracePeriodSeconds"):
        render({**workers, "worker": {**workers["worker"], "terminationGracePeriodSeconds": 10}})
