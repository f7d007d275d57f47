"""The pure half of the benchmarks: bench.py's summaries, ratios, goals and readable table, and the
printed and JSON figures of every benchmark.

No servers, no torch: tested by tests/unit/benchmarks/test_report.py.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# The goals, reported as PASS or MISS (never asserted: a loaded CI machine may miss them).
GOALS = (
    ("throughput at concurrency 32 >= 15x the serial baseline", "throughput_32_vs_serial", ">=", 15.0),
    ("mixed sampling settings >= 0.95x uniform ones (concurrency 32)", "mixed_vs_uniform_32", ">=", 0.95),
    ("short request p50 during long generations <= 1.3x idle", "short_busy_vs_idle_p50", "<=", 1.3),
    ("time to first audio p50 at concurrency 16 <= 0.25 s", "ttfa_16_p50", "<=", 0.25),
    (
        "API adds <= 20 ms to the first audio at p50 (HTTP vs gRPC, concurrency 1)",
        "first_byte_overhead_ms_1",
        "<=",
        20.0,
    ),
)


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (q in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True)
class Run:
    """One measured batch of requests: what came back and how long it took."""

    requests: int
    concurrency: int
    wall_seconds: float
    audio_seconds: float
    latency_p50: float
    latency_p95: float
    errors: int = 0

    @property
    def throughput(self) -> float:
        """Audio seconds generated per wall second."""
        return self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else math.nan

    def as_dict(self) -> dict[str, Any]:
        return {**{k: _round(v) for k, v in asdict(self).items()}, "throughput": _round(self.throughput)}


def summarize(
    latencies: Sequence[float], audio_seconds: Sequence[float], wall_seconds: float, concurrency: int, errors: int = 0
) -> Run:
    return Run(
        requests=len(latencies),
        concurrency=concurrency,
        wall_seconds=wall_seconds,
        audio_seconds=sum(audio_seconds),
        latency_p50=percentile(latencies, 50),
        latency_p95=percentile(latencies, 95),
        errors=errors,
    )


def ratio(numerator: float, denominator: float) -> float:
    if not denominator or math.isnan(denominator) or math.isnan(numerator):
        return math.nan
    return numerator / denominator


def ratios(
    serial: Run,
    mixed: dict[int, Run],
    uniform_32: Run | None,
    idle_p50: float,
    busy_p50: float,
    ttfa_16_p50: float = math.nan,
) -> dict:
    """Throughput against the serial baseline at each concurrency, mixed against uniform settings,
    a short request's p50 during long generations against an idle server (and, passed through,
    the p50 time to first audio at concurrency 16)."""
    by_level = {str(level): _round(ratio(run.throughput, serial.throughput)) for level, run in sorted(mixed.items())}
    top = mixed.get(32)
    return {
        "throughput_vs_serial": by_level,
        "throughput_32_vs_serial": by_level.get("32", math.nan),
        "mixed_vs_uniform_32": _round(ratio(top.throughput, uniform_32.throughput)) if top and uniform_32 else math.nan,
        "short_busy_vs_idle_p50": _round(ratio(busy_p50, idle_p50)),
        "ttfa_16_p50": _round(ttfa_16_p50),
    }


def first_byte_overhead(ttfa: dict[str, Any], ttfb: dict[str, Any]) -> dict[str, Any]:
    """Milliseconds the API adds at p50 to the first audio, per concurrency: its time to first byte
    over HTTP (/v1/audio/speech) less the engine's time to first chunk over gRPC, in the same run."""
    return {
        f"first_byte_overhead_ms_{level}": _round((ttfb[level]["p50"] - ttfa[level]["p50"]) * 1000)
        for level in sorted(set(ttfa) & set(ttfb))
    }


def goals(measured: dict[str, Any], table: Sequence[tuple[str, str, str, float]] = GOALS) -> list[dict[str, Any]]:
    """Each goal of `table` with its measured value and PASS, MISS, or N/A when it was not measured."""
    verdicts = []
    for name, key, op, target in table:
        value = measured.get(key, math.nan)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            verdict = "N/A"
        else:
            verdict = "PASS" if (value >= target if op == ">=" else value <= target) else "MISS"
        verdicts.append({"goal": name, "value": value, "target": f"{op} {target}", "verdict": verdict})
    return verdicts


def _round(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) and not math.isnan(value) else value


def _row(cells: Sequence[Any], widths: Sequence[int]) -> str:
    return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def table(report: dict[str, Any]) -> str:
    """The readable form of the JSON report."""
    heads = ("run", "conc", "reqs", "audio s", "wall s", "audio s/s", "x serial", "p50 s", "p95 s", "errors")
    widths = (22, 5, 5, 8, 8, 10, 9, 7, 7, 6)
    lines = [_row(heads, widths)]
    serial = report["serial"]
    runs = [("serial (in-process)", serial)]
    runs += [("deployed mixed", run) for run in report["deployed"]["mixed"].values()]
    runs += [("deployed uniform", run) for run in report["deployed"]["uniform"].values()]
    for label, run in runs:
        times = ratio(run["throughput"], serial["throughput"])
        cells: tuple[Any, ...] = (label, run["concurrency"], run["requests"], run["audio_seconds"], run["wall_seconds"])
        cells += (run["throughput"], _round(times), run["latency_p50"], run["latency_p95"], run["errors"])
        lines.append(_row(cells, widths))
    lines.append("")
    for level, ttfa in report["ttfa"].items():
        lines.append(
            f"time to first audio chunk (STREAM, Triton gRPC), concurrency {level}: "
            f"p50 {ttfa['p50']} s, p95 {ttfa['p95']} s, chunks per request {ttfa['chunks_p50']}"
        )
    for level, ttfb in report.get("ttfb", {}).items():
        added = report.get("ratios", {}).get(f"first_byte_overhead_ms_{level}")
        lines.append(
            f"time to first byte over HTTP (/v1/audio/speech, pcm), concurrency {level}: "
            f"p50 {ttfb['p50']} s, p95 {ttfb['p95']} s (the API adds {added} ms at p50)"
        )
    short = report["short_during_long"]
    lines.append(
        f"short request p50: idle {short['idle_p50']} s, during {short['long_requests']} long "
        f"generations {short['busy_p50']} s ({short['long_running_at_last_short']} long still running at the end)"
    )
    lines.append("")
    for goal in report["goals"]:
        lines.append(f"{goal['verdict']:5} {goal['goal']}: {goal['value']} (target {goal['target']})")
    return "\n".join(lines)


def write_json(path: Path, figures: dict[str, Any]) -> None:
    path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def emit(figures: dict[str, Any], json_path: Path | None, *, width: int | None = None) -> None:
    """Print the figures (`name value` lines padded to `width`, else as JSON), and write them as JSON
    to `json_path` when given."""
    lines = (f"{key:{width}} {value}" for key, value in figures.items())
    print(json.dumps(figures, indent=2) if width is None else "\n".join(lines))
    if json_path is not None:
        write_json(json_path, figures)
