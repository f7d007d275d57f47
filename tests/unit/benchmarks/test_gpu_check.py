"""The GPU check runs end to end on the CPU (`--device cpu --quick`: tiny checkpoints, small levels;
`--graphs record`: the step graphs through the CPU stand-in) and reports every figure the GPU run
reports; without its packages it says which wheels to pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import gpu_check

ROOT = Path(__file__).resolve().parents[3]
COMMAND = ("--device", "cpu", "--quick", "--graphs", "record")


def test_the_quick_cpu_check_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "check.json"
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.gpu_check", *COMMAND, "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["environment"]["device"] == "cpu"
    assert set(report["models"]) == {"custom_voice", "voice_clone"}
    for model in report["models"].values():
        assert model["parameters"] > 0 and model["load_seconds"] >= 0
        assert [run["concurrency"] for run in model["runs"]] == list(gpu_check.QUICK.levels)
        for run in model["runs"]:
            assert run["errors"] == [] and run["requests"] == 2 * run["concurrency"]
            assert run["audio_seconds"] > 0 and run["audio_seconds_per_second"] > 0
            assert run["ttfa_ms_streaming"]["n"] == run["concurrency"], "every other request streams"
            assert run["ttfa_ms_streaming"]["p50"] <= run["ttfa_ms_streaming"]["p95"]
            assert run["steps"] > 0 and run["ms_per_step"] > 0 and run["codec_ms_per_step"] > 0
        # the graph path through the CPU stand-in: replayed parts (their draws inside), then eager
        for step in model["step_profile"]:
            assert all(step[f"{part}_ms"] > 0 for part in ("talker", "predictor", "total"))
            assert step["sampling_ms"] is None, "inside the replayed graphs"
        for step in model["step_profile_eager"]:
            assert all(step[f"{part}_ms"] > 0 for part in ("talker", "predictor", "sampling", "total"))
        calls = model["codec_calls"]  # the codec's decoder per (rows, frames), eager and replayed
        assert [(c["rows"], c["frames"]) for c in calls] == [(1, 74), (4, 80)]
        assert all(c["eager_ms"] > 0 and c["graphed_ms"] > 0 for c in calls)
        graphs = model["graphs"]
        assert graphs["mode"] == "record" and graphs["captured"] >= 6 and graphs["fallbacks"] == 0
    assert "audio-s/s" in done.stdout and "written:" in done.stdout


def test_without_its_packages_it_names_the_wheels_to_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu_check, "PINS", {"transformers": "0.0.0"})
    assert not gpu_check.packages_ready()
    with pytest.raises(SystemExit, match="--wheels"):
        gpu_check.bootstrap(None)
    monkeypatch.setenv(gpu_check.BOOTSTRAPPED, "1")  # installed once already: never a loop
    with pytest.raises(SystemExit, match="--wheels"):
        gpu_check.bootstrap(ROOT)


def test_a_model_that_fails_is_reported_and_the_others_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(root: Path, variant: str, plan: gpu_check.Plan, device: str) -> Path:
        raise RuntimeError(f"no room for {variant}")

    monkeypatch.setattr(gpu_check, "write_checkpoint", broken)
    out = tmp_path / "check.json"
    assert gpu_check.main(["--device", "cpu", "--quick", "--out", str(out)]) == 1
    models = json.loads(out.read_text())["models"]
    assert set(models) == {"custom_voice", "voice_clone"}
    assert all(f"RuntimeError: no room for {name}" in model["error"] for name, model in models.items())
