"""The GPU check's printed table and its goals (pure: no torch; tested without running the check)."""

from __future__ import annotations

from typing import Any

VARIANTS = ("custom_voice", "voice_clone")

# Issue 13's goals on one H100/H200 with the 1.7B models in bf16 (reported, never asserted).
GOALS = tuple(
    goal
    for variant in VARIANTS
    for goal in (
        (f"{variant}: x real time at concurrency 64, codec included >= 300", f"{variant}_xrt_64", ">=", 300.0),
        (f"{variant}: time to first audio p95 at concurrency 16 <= 100 ms", f"{variant}_ttfa_p95_16", "<=", 100.0),
    )
)


def measured(report: dict[str, Any]) -> dict[str, Any]:
    """The figures the goals read, from the report's runs."""
    values: dict[str, Any] = {}
    for variant, model in report["models"].items():
        for run in model.get("runs", []):
            if "audio_seconds_per_second" in run:
                values[f"{variant}_xrt_{run['concurrency']}"] = run["audio_seconds_per_second"]
                values[f"{variant}_ttfa_p95_{run['concurrency']}"] = (run["ttfa_ms_streaming"] or {}).get("p95")
    return values


def table(report: dict[str, Any]) -> str:
    lines = ["model         c  audio-s/s  xRT/stream  TTFA p50/p95 ms   ms/step  rows  codec ms/step"]
    for variant, model in report["models"].items():
        for run in model.get("runs", []):
            if "skipped" in run:
                lines.append(f"{variant:12} {run['concurrency']:2}  skipped: {run['skipped']}")
                continue
            ttfa, xrt = run["ttfa_ms_streaming"] or {}, run["x_real_time_per_stream"] or {}
            lines.append(
                f"{variant:12} {run['concurrency']:2}  {run['audio_seconds_per_second']:9.2f}"
                f"  {xrt.get('p50', 0):10.2f}  {ttfa.get('p50', 0):7.0f}/{ttfa.get('p95', 0):<7.0f}"
                f"  {run['ms_per_step'] or 0:8.1f}  {run['mean_rows_per_step'] or 0:4.1f}"
                f"  {run['codec_ms_per_step'] or 0:8.1f}"
            )
        for name in ("step_profile", "step_profile_eager"):
            for step in model.get(name, []):
                parts = ", ".join(f"{k[:-3]} {v}" for k, v in step.items() if k.endswith("_ms"))
                mode = "eager" if name.endswith("eager") else model.get("graphs", {}).get("mode")
                lines.append(f"{variant:12} step at {step['rows']} rows, graphs {mode} (ms): {parts}")
        for call in model.get("codec_calls", []):
            if "rows" in call:
                graphed = (
                    f", graphed {call['graphed_ms']} ms ({call['eager_over_graphed']}x)" if "graphed_ms" in call else ""
                )
                lines.append(
                    f"{variant:12} codec call {call['rows']}x{call['frames']}: eager {call['eager_ms']} ms{graphed}"
                )
        if "error" in model or "skipped" in model:
            reason = model.get("skipped") or model["error"].strip().splitlines()[-1]
            lines.append(f"{variant:12} NOT COMPLETE: {reason}")
        memory = f"KV cache GiB: {model.get('kv_cache_gib')}, peak GPU GiB: {model.get('peak_gpu_memory_gib')}"
        lines.append(f"{variant:12} graphs: {model.get('graphs')}, {memory}")
    return "\n".join(lines)
