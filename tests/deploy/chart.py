"""Render the Helm chart offline with Helm's own engine, as `helm template` does.

No registry (PyPI, npm, Debian) ships the helm CLI binary, so the chart is rendered by Helm's Go
SDK itself (helm.sh/helm/v4 v4.2.3) through helm-python-sdk's libhelm_c: `helm_render` runs
`chartutil.ToRenderValues` (values coalescing and values.schema.json validation) and
`engine.Render`, with capabilities built like `helm template --kube-version --api-versions`.
The `api_versions`/`kube_version` render options are in libhelm_c's ABI but not wrapped by the
Python API, hence the direct `_native.call_string` (pinned version: helm-python-sdk==0.2.2).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "qwen-tts"
CI_VALUES = sorted((CHART / "ci").glob("*-values.yaml"))
KUBE_VERSION = "v1.31.0"
MONITORING_API = "monitoring.coreos.com/v1"
RELEASE = "tts"
NAMESPACE = "speech"


@dataclass(frozen=True)
class Rendered:
    manifests: dict[str, str]
    """Template path -> rendered text, as Helm returns it (NOTES.txt included)."""

    @property
    def objects(self) -> list[dict[str, Any]]:
        docs: list[dict[str, Any]] = []
        for path, text in sorted(self.manifests.items()):
            if path.endswith("NOTES.txt") or not text.strip():
                continue
            for doc in yaml.safe_load_all(text):
                if doc:
                    doc.setdefault("__template__", path)
                    docs.append(doc)
        return docs

    def kinds(self) -> list[str]:
        return sorted(o["kind"] for o in self.objects)

    def get(self, kind: str, name_suffix: str = "") -> dict[str, Any]:
        found = [o for o in self.objects if o["kind"] == kind and o["metadata"]["name"].endswith(name_suffix)]
        assert len(found) == 1, f"{kind} *{name_suffix}: {[o['metadata']['name'] for o in found]}"
        return found[0]

    @property
    def notes(self) -> str:
        return next(text for path, text in self.manifests.items() if path.endswith("NOTES.txt"))


def load_values(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text()) or {}


def render(
    values: dict[str, Any] | None = None, *, monitoring: bool = False, kube_version: str = KUBE_VERSION
) -> Rendered:
    return _render(json.dumps(values or {}, sort_keys=True), monitoring, kube_version)


@lru_cache(maxsize=64)
def _render(values_json: str, monitoring: bool, kube_version: str) -> Rendered:
    import helm_python as helm
    from helm_python import _native

    options = {
        "name": RELEASE,
        "namespace": NAMESPACE,
        "kube_version": kube_version,
        "api_versions": [MONITORING_API] if monitoring else [],
    }
    with helm.Chart.load(str(CHART)) as chart:
        raw = _native.call_string("helm_render", chart._raw(), values_json, json.dumps(options))
    return Rendered(json.loads(raw))


def validate_schema(values: dict[str, Any]) -> None:
    import helm_python as helm

    with helm.Chart.load(str(CHART)) as chart:
        chart.validate_schema(values)


def strip_internal(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != "__template__"}
