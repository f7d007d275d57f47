"""The GPU check's goals read the right runs: x real time at 64, first-audio p95 at 16, per model."""

from __future__ import annotations

from benchmarks.gpu_report import GOALS, measured, table
from benchmarks.report import goals


def run(concurrency: int, xrt: float, p95: float | None) -> dict:
    ttfa = None if p95 is None else {"p50": p95 / 2, "p95": p95, "n": 4}
    return {
        "concurrency": concurrency, "audio_seconds_per_second": xrt, "ttfa_ms_streaming": ttfa,
        "x_real_time_per_stream": {"p50": 3.0}, "ms_per_step": 20.0, "mean_rows_per_step": 10.0,
        "codec_ms_per_step": 2.0,
    }  # fmt: skip


def test_goals_pass_miss_or_say_what_was_not_measured() -> None:
    report = {
        "models": {
            "custom_voice": {"runs": [run(16, 90.0, 80.0), run(64, 310.0, 400.0)]},
            "voice_clone": {"runs": [run(16, 70.0, 120.0), {"concurrency": 64, "skipped": "out of time (--budget)"}]},
        }
    }
    verdicts = {goal["goal"].split(":")[0] + goal["target"]: goal["verdict"] for goal in goals(measured(report), GOALS)}
    assert verdicts == {
        "custom_voice>= 300.0": "PASS",
        "custom_voice<= 100.0": "PASS",
        "voice_clone>= 300.0": "N/A",
        "voice_clone<= 100.0": "MISS",
    }
    printed = table(report)
    assert "skipped: out of time" in printed and "310.00" in printed
