"""benchmarks/batch.py runs end to end on 20 items (its own Triton and API; about 20 s) and
writes a complete report. The figures are not judged here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


def test_batch_bench_writes_a_complete_report(tmp_path: Path) -> None:
    out = tmp_path / "bench-batch.json"
    command = [sys.executable, "-m", "benchmarks.batch", "--items", "20", "--json", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    report = json.loads(out.read_text())
    for run in ("one_by_one", "batch"):
        assert report[run]["items_per_second"] > 0 and report[run]["audio_seconds_per_second"] > 0
        assert {"model", "api", "tritonserver", "client"} <= set(report[run]["cpu_ms_per_item"])
        assert report[run]["cpu_ms_per_item"]["model"] > 0
    assert report["goal"]["verdict"] in ("PASS", "MISS") and report["speedup_items_per_second"] > 0
    assert "batch vs one by one" in done.stdout
