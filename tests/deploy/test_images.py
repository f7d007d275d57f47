"""The Dockerfiles parsed by BuildKit's own parser (the `dockerfile` package) and checked for what
the images promise: pinned bases, non-root users, health checks, no weights, no torch in the API
image, pins that match requirements/, and copies that the .dockerignore lets through."""

from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import dockerfile
import pytest

from tests.deploy.chart import ROOT

API = ROOT / "docker" / "api.Dockerfile"
TRITON = ROOT / "docker" / "triton.Dockerfile"
ENGINE_ONLY = {"torch", "torchaudio", "qwen_tts", "transformers", "accelerate", "librosa", "onnxruntime", "soxr"}


def commands(path: Path) -> list[Any]:
    return list(dockerfile.parse_file(str(path)))


def args(path: Path) -> dict[str, str]:
    found = {}
    for cmd in commands(path):
        if cmd.cmd == "ARG" and "=" in cmd.value[0]:
            key, value = cmd.value[0].split("=", 1)
            found[key] = value
    return found


def pins(requirements: str) -> dict[str, str]:
    result = {}
    for line in (ROOT / "requirements" / requirements).read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)", line.strip())
        if match:
            result[match.group(1).split("[")[0].lower()] = match.group(2)
    return result


@pytest.mark.parametrize("path", [API, TRITON], ids=lambda p: p.name)
def test_parses_runs_as_non_root_with_healthcheck(path: Path) -> None:
    cmds = commands(path)
    users = [c.value[0] for c in cmds if c.cmd == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root"), users
    assert [c for c in cmds if c.cmd == "HEALTHCHECK"][-1].value[0] == "CMD"
    assert any(c.cmd == "ENTRYPOINT" for c in cmds)
    # Weights never go into an image: no model files copied, no download at build time.
    text = path.read_text()
    assert "snapshot_download" not in text and "huggingface-cli" not in text
    for cmd in cmds:
        if cmd.cmd in ("COPY", "ADD"):
            assert ".cache" not in " ".join(cmd.value), cmd.original


def test_base_images_are_pinned() -> None:
    assert args(TRITON)["TRITON_IMAGE"] == "nvcr.io/nvidia/tritonserver:24.10-py3"
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", args(API)["PYTHON_IMAGE"])
    # tritonclient 2.51.0 is the client of Triton 2.51 = NGC 24.10.
    assert pins("api.txt")["tritonclient"] == "2.51.0"


def test_api_image_has_no_engine_requirements() -> None:
    code = re.sub(r"#.*", "", API.read_text())
    assert "engine.txt" not in code
    assert "torch" not in code.replace("find_spec('torch')", "")  # the build fails if torch sneaks in
    assert "requirements/api.txt" in code and "ffmpeg=" in code
    assert not ENGINE_ONLY & set(pins("api.txt"))
    copied = {source for cmd in commands(API) if cmd.cmd == "COPY" for source in cmd.value[:-1]}
    assert "tts_contract/" in copied and not any(source.startswith("tts_engine") for source in copied)


def test_api_package_imports_without_engine_requirements() -> None:
    """What the API image runs: api.main with the wire contract, without the engine or its requirements."""
    blocker = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        f"        if name.split('.')[0] in {sorted(ENGINE_ONLY | {'tts_engine'})!r}:\n"
        "            raise ImportError('engine-only package imported by the API: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import api.main, api.metrics\n"
    )
    done = subprocess.run([sys.executable, "-c", blocker], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_triton_image_pins_match_the_requirements() -> None:
    image_args = args(TRITON)
    assert image_args["TORCH_VERSION"] == pins("engine.txt")["torch"]
    assert image_args["TORCH_INDEX_URL"].startswith("https://download.pytorch.org/whl/cu12")
    assert image_args["PYTRITON_VERSION"] == pins("dev.txt")["nvidia-pytriton"]
    install = (ROOT / "scripts" / "install.sh").read_text()
    assert f"qwen-tts=={image_args['QWEN_TTS_VERSION']}" in install
    assert f"torchaudio=={image_args['TORCHAUDIO_VERSION']}" in install
    text = TRITON.read_text()
    assert "requirements/engine.txt" in text and "--no-deps" in text
    assert "python_backend_stubs/3.11/triton_python_backend_stub" in text


def test_triton_entrypoint_matches_run_triton_flags() -> None:
    entry = (ROOT / "docker" / "triton-entrypoint.sh").read_text()
    local = (ROOT / "scripts" / "run_triton.sh").read_text()
    for flag in (
        "--model-control-mode=explicit",
        "--load-model=engine_info",
        "--allow-cpu-metrics=true",
        "--http-port",
        "--grpc-port",
        "--metrics-port",
    ):
        assert flag in entry and flag in local, flag
    assert "--allow-gpu-metrics=true" in entry


@pytest.mark.parametrize("script", ["triton-entrypoint.sh", "api-entrypoint.sh"])
def test_entrypoints_are_valid_shell(script: str) -> None:
    path = ROOT / "docker" / script
    assert path.stat().st_mode & 0o111, "executable bit"
    shell = "bash" if path.read_text().startswith("#!/usr/bin/env bash") else "sh"
    subprocess.run([shell, "-n", str(path)], check=True)


def test_api_entrypoint_clears_the_multiprocess_dir(tmp_path: Path) -> None:
    multiproc = tmp_path / "prom"
    multiproc.mkdir()
    (multiproc / "counter_123.db").write_bytes(b"stale")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    (fake_bin / "uvicorn").write_text('#!/bin/sh\necho "uvicorn $*"\n')
    (fake_bin / "uvicorn").chmod(0o755)
    env = {"PATH": f"{fake_bin}:/usr/bin:/bin", "PROMETHEUS_MULTIPROC_DIR": str(multiproc), "WEB_CONCURRENCY": "3"}
    done = subprocess.run(
        ["sh", str(ROOT / "docker" / "api-entrypoint.sh")], env=env, capture_output=True, text=True, check=True
    )
    assert list(multiproc.iterdir()) == []
    assert "api.main:app" in done.stdout and "--workers 3" in done.stdout and "--port 8080" in done.stdout


def dockerignore_allows(path: str) -> bool:
    """The .dockerignore semantics used here: patterns in order, the last match wins, `!` re-includes."""
    allowed = True
    for raw in (ROOT / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if (
            pattern == "**"
            or any(fnmatch.fnmatch(p, pattern) for p in prefixes)
            or (pattern.startswith("**/") and any(fnmatch.fnmatch(part, pattern[3:]) for part in parts))
        ):
            allowed = negate
    return allowed


def test_dockerignore_sends_the_sources_and_never_weights() -> None:
    for path in (
        "api/main.py",
        "tts_engine/config.py",
        "tts_contract/wire.py",
        "model_repository/engine_info/config.pbtxt",
        "requirements/api.txt",
        "requirements/engine.txt",
        "docker/api-entrypoint.sh",
    ):
        assert dockerignore_allows(path), path
    for path in (
        ".venv/bin/python",
        ".cache/tiny-checkpoints/x/model.safetensors",
        ".git/HEAD",
        "tests/unit/api/test_metrics.py",
        "api/__pycache__/main.cpython-311.pyc",
        "tts_engine/weights/model.safetensors",
        "helm/qwen-tts/values.yaml",
    ):
        assert not dockerignore_allows(path), path
    for dockerfile_path in (API, TRITON):
        for cmd in commands(dockerfile_path):
            if cmd.cmd == "COPY" and not any(f.startswith("--from") for f in cmd.flags):
                for source in cmd.value[:-1]:
                    assert (ROOT / source).exists(), source
                    assert dockerignore_allows(source.rstrip("/") + ("/x" if source.endswith("/") else "")), source


def test_no_image_carries_the_tiny_checkpoint_generator() -> None:
    """Tiny random checkpoints are for tests and offline runs: no image serves them, so none copies
    their generator and the build context leaves it out (lint-imports checks nothing served imports it)."""
    assert not dockerignore_allows("tiny_checkpoints/checkpoint.py")
    for dockerfile_path in (API, TRITON):
        copied = [src for cmd in commands(dockerfile_path) if cmd.cmd in ("COPY", "ADD") for src in cmd.value[:-1]]
        assert not any("tiny" in src for src in copied), copied


@pytest.mark.parametrize("path", [API, TRITON], ids=lambda p: p.name)
def test_images_limit_malloc_arenas(path: Path) -> None:
    """Two malloc arenas: with one per thread the processes' memory crept up under the soak."""
    env = {}
    for cmd in commands(path):
        if cmd.cmd == "ENV":
            env |= dict(zip(cmd.value[::2], cmd.value[1::2], strict=True))
    assert env.get("MALLOC_ARENA_MAX") == "2"
    local = (ROOT / "scripts" / "run_triton.sh").read_text()
    assert 'MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"' in local  # the same for the local Triton
