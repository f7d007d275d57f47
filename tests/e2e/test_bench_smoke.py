"""`python -m benchmarks.bench --quick` runs end to end (its own Triton and API on the real-codebook tiny
checkpoints) and writes a complete report; about 30 to 60 s. The figures are not judged here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_quick_bench_writes_a_complete_report(tmp_path: Path):
    out = tmp_path / "bench.json"
    command = [sys.executable, "-m", "benchmarks.bench", "--quick", "--json", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    report = json.loads(out.read_text())
    assert set(report["deployed"]["mixed"]) == {"1", "4", "16", "32"} and "32" in report["deployed"]["uniform"]
    runs = [report["serial"], *report["deployed"]["mixed"].values(), *report["deployed"]["uniform"].values()]
    assert all(run["errors"] == 0 and run["audio_seconds"] > 0 and run["throughput"] > 0 for run in runs)
    assert all(report["ttfa"][level]["p50"] > 0 for level in ("1", "16"))
    assert all(report["ttfb"][level]["p50"] > 0 for level in ("1", "16"))
    assert isinstance(report["ratios"]["first_byte_overhead_ms_1"], float)
    assert report["short_during_long"]["busy_p50"] > 0
    assert all(goal["verdict"] in ("PASS", "MISS") for goal in report["goals"]) and len(report["goals"]) == 5
    assert "audio s/s" in done.stdout and report["sampler"] == "counter"
