"""The report half of the benchmarks (benchmarks/report.py): percentiles, throughput, ratios, goals,
the table and the printed and JSON figures."""

import json
import math
from pathlib import Path

import pytest

from benchmarks import report


def test_percentiles_interpolate_and_are_nan_without_values():
    assert report.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert report.percentile([1.0, 2.0], 50) == 1.5
    assert report.percentile([1.0, 2.0, 3.0, 4.0, 5.0], 95) == 4.8
    assert math.isnan(report.percentile([], 50))


def test_a_run_reports_audio_seconds_per_wall_second():
    run = report.summarize([1.0, 2.0, 3.0], [2.0, 2.0, 2.0], wall_seconds=3.0, concurrency=3, errors=1)
    assert run.throughput == 2.0 and run.latency_p50 == 2.0 and run.requests == 3
    assert run.as_dict()["throughput"] == 2.0 and run.as_dict()["errors"] == 1


def test_ratios_and_goals():
    serial = report.summarize([1.0], [1.0], 1.0, 1)  # 1 audio s/s
    mixed = {1: report.summarize([1.0], [2.0], 1.0, 1), 32: report.summarize([1.0], [16.0], 1.0, 32)}
    uniform = report.summarize([1.0], [20.0], 1.0, 32)
    found = report.ratios(serial, mixed, uniform, idle_p50=0.2, busy_p50=0.25, ttfa_16_p50=0.3)
    assert found["throughput_vs_serial"] == {"1": 2.0, "32": 16.0}
    assert found["mixed_vs_uniform_32"] == 0.8 and found["short_busy_vs_idle_p50"] == 1.25
    verdicts = {g["goal"].split()[0]: g["verdict"] for g in report.goals(found)}
    assert verdicts == {"throughput": "PASS", "mixed": "MISS", "short": "PASS", "time": "MISS", "API": "N/A"}
    without_32 = report.ratios(serial, {1: mixed[1]}, None, idle_p50=0.0, busy_p50=0.3)
    assert [g["verdict"] for g in report.goals(without_32)] == ["N/A"] * 5


def test_first_byte_overhead_is_http_less_grpc_per_level():
    ttfa = {"1": {"p50": 0.100}, "16": {"p50": 0.400}}
    ttfb = {"1": {"p50": 0.112}, "16": {"p50": 0.450}}
    found = report.first_byte_overhead(ttfa, ttfb)
    assert found == {"first_byte_overhead_ms_1": 12.0, "first_byte_overhead_ms_16": 50.0}
    assert report.goals(found)[-1]["verdict"] == "PASS"
    assert report.goals({"first_byte_overhead_ms_1": 25.0})[-1]["verdict"] == "MISS"


def test_table_shows_every_run_and_goal():
    run = report.summarize([1.0], [2.0], 1.0, 1).as_dict()
    short = {"idle_p50": 0.1, "busy_p50": 0.1, "long_requests": 8, "long_running_at_last_short": 8}
    found = {
        "throughput_32_vs_serial": 16.0,
        "mixed_vs_uniform_32": 1.0,
        "short_busy_vs_idle_p50": 1.0,
        "ttfa_16_p50": 0.2,
    }
    text = report.table(
        {
            "serial": run,
            "deployed": {"mixed": {"32": run}, "uniform": {"32": run}},
            "ttfa": {"1": {"p50": 0.1, "p95": 0.2, "chunks_p50": 3.0}},
            "ttfb": {"1": {"p50": 0.11, "p95": 0.2}},
            "ratios": {"first_byte_overhead_ms_1": 10.0},
            "short_during_long": short,
            "goals": report.goals(found),
        }
    )
    assert "serial (in-process)" in text and "deployed uniform" in text and text.count("PASS") == 4
    assert "the API adds 10.0 ms at p50" in text


@pytest.mark.parametrize("width", [None, 12])
def test_emit_prints_the_figures_and_writes_them_as_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], width: int | None
):
    figures = {"jobs_per_second": 74.8, "runs": [1, 2]}
    out = tmp_path / "figures.json"
    report.emit(figures, out, width=width)
    printed = capsys.readouterr().out
    assert json.loads(out.read_text()) == figures
    if width is None:
        assert json.loads(printed) == figures
    else:
        assert printed.splitlines() == ["jobs_per_second 74.8", "runs         [1, 2]"]
    report.emit(figures, None)
    assert json.loads(capsys.readouterr().out) == figures
