"""The one-command GPU check: the engine in-process on random checkpoints of the real sizes.

    python3 -m benchmarks.gpu_check --wheels .whl            # a CUDA machine, no network (README)
    python -m benchmarks.gpu_check --device cpu --quick      # here: tiny checkpoints, under 2 minutes

For each model (1.7B CustomVoice, 1.7B Base): write a random-weight checkpoint of the real sizes
(random weights cost what real ones cost; `--quick`: tiny ones), load it with the engine's loader,
time steps at fixed batch sizes split into talker, code predictor and sampling, then serve closed-
loop clients at each concurrency (1, 16, 64; mixed settings and lengths, half streaming) through
the generation loop (no Triton). Printed as a table and written as JSON: audio seconds per second,
time to first audio p50/p95, ms per step by part and codec, graphs captured, peak GPU memory.
Whatever the machine lacks (qwen-tts and its pins) comes from `--wheels`, installed into a
temporary folder before anything is imported. A model or level that would pass `--budget` is
skipped and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

PINS = {"transformers": "4.57.3", "qwen-tts": "0.1.1"}
MODULES = ("librosa", "soundfile", "soxr", "sox", "accelerate")
BOOTSTRAPPED = "QWEN_TTS_GPU_CHECK_BOOTSTRAPPED"


@dataclass(frozen=True)
class Plan:
    levels: tuple[int, ...]
    requests_per_client: int
    lengths: tuple[int, ...]
    """max_new_tokens of the requests, cycled (80 ms of audio each)"""
    level_seconds: float
    profile_rows: tuple[int, ...]
    profile_steps: int
    real_dims: bool


FULL = Plan((1, 16, 64), 2, (40, 80, 120, 160), 45.0, (1, 16, 64), 10, True)
QUICK = Plan((1, 2, 4), 2, (6, 10, 14), 20.0, (1, 4), 2, False)
VARIANTS = ("custom_voice", "voice_clone")


def packages_ready() -> bool:
    try:
        pinned = all(metadata.version(name) == version for name, version in PINS.items())
    except metadata.PackageNotFoundError:
        return False
    return pinned and all(find_spec(module) is not None for module in MODULES)


def bootstrap(wheels: Path | None) -> None:
    """Install the wheels into a temporary folder and start again with it first on the path."""
    if packages_ready():
        return
    if wheels is None or os.environ.get(BOOTSTRAPPED):
        raise SystemExit(f"missing {PINS} or one of {MODULES}: pass --wheels DIR (README, 'GPU check')")
    target = Path(tempfile.gettempdir()) / "qwen-tts-gpu-check-site"
    found = sorted(str(p) for p in wheels.glob("*.whl"))
    pip = [sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile", "--no-cache-dir"]
    subprocess.run([*pip, "--upgrade", "--target", str(target), *found], check=True)
    path = os.pathsep.join(p for p in (str(target), os.getcwd(), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, BOOTSTRAPPED: "1"}
    os.execve(sys.executable, [sys.executable, "-m", "benchmarks.gpu_check", *sys.argv[1:]], env)


def write_checkpoint(root: Path, variant: str, plan: Plan, device: str) -> Path:
    import torch

    from tiny_checkpoints import VARIANT_DIRS, write_tiny_checkpoint

    path = root / VARIANT_DIRS[("1.7B", variant)]
    dtype = torch.bfloat16 if device.startswith("cuda") else None
    return write_tiny_checkpoint(
        path, variant=variant, size="1.7B", real_codebook=True, real_dims=plan.real_dims, device=device, dtype=dtype
    )


def check_model(variant: str, path: Path, plan: Plan, args: argparse.Namespace, deadline: float) -> dict[str, Any]:
    import torch

    from benchmarks.engine_load import LoadRun
    from benchmarks.step_phases import profile
    from tts_engine.config import EngineConfig, Variant
    from tts_engine.loader import load_model
    from tts_engine.scheduling.engine import Engine
    from tts_engine.scheduling.runners import build_runner

    kind = Variant(variant)
    config = EngineConfig(
        model_name=f"{variant}_1_7b", variant=kind, size="1.7B", weights=str(path), device=args.device,
        dtype="auto", max_batch_rows=max(plan.levels), cuda_graphs=args.graphs,
    )  # fmt: skip
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    tts = load_model(config)
    engine = Engine.for_model(tts, kind)
    result: dict[str, Any] = {"load_seconds": round(time.perf_counter() - started, 2)}
    result["parameters"] = sum(p.numel() for p in tts.model.parameters())
    device = torch.device(args.device)
    runner = build_runner(engine, config)
    result["step_profile"] = [profile(runner, kind, rows, plan.profile_steps, device) for rows in plan.profile_rows]
    runner.close()
    runner = build_runner(engine, config)
    load = LoadRun(runner, kind)
    load.level(max(plan.levels), max(plan.levels), plan.lengths[:1], plan.level_seconds)  # warm-up (captures)
    result["runs"] = []
    for level in plan.levels:
        if time.perf_counter() + plan.level_seconds + 30 > deadline:
            result["runs"].append({"concurrency": level, "skipped": "out of time (--budget)"})
            continue
        run = load.level(level, level * plan.requests_per_client, plan.lengths, plan.level_seconds)
        result["runs"].append(run)
        print(f"  {variant} c={level}: {json.dumps(run)}", flush=True)
    load.close()
    result["graphs"] = {"mode": args.graphs, "captured": runner.graphs_captured, "fallbacks": runner.graph_fallbacks}
    if cuda:
        result["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return result


def environment(device: str) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {"device": device, "torch": torch.__version__}
    info["transformers"] = metadata.version("transformers")
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


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
        for step in model.get("step_profile", []):
            parts = ", ".join(f"{k[:-3]} {v}" for k, v in step.items() if k.endswith("_ms"))
            lines.append(f"{variant:12} step at {step['rows']} rows (ms): {parts}")
        lines.append(f"{variant:12} graphs: {model.get('graphs')}, peak GPU GiB: {model.get('peak_gpu_memory_gib')}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda when there is one)")
    parser.add_argument("--quick", action="store_true", help="tiny checkpoints and small levels (the CPU test)")
    parser.add_argument("--wheels", type=Path, default=None, help="folder of wheels for what the machine lacks")
    parser.add_argument("--graphs", default="auto", choices=("auto", "off"), help="QWEN_TTS_CUDA_GRAPHS")
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for the whole check")
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    bootstrap(args.wheels)
    import torch

    from benchmarks.report import write_json

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    plan = QUICK if args.quick else FULL
    deadline = started + args.budget
    report: dict[str, Any] = {"environment": environment(args.device), "plan": plan.__dict__, "models": {}}
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        for variant in args.variants:
            if time.perf_counter() > deadline - 60:
                report["models"][variant] = {"skipped": "out of time (--budget)"}
                continue
            began = time.perf_counter()
            path = write_checkpoint(Path(scratch), variant, plan, args.device)
            written = {"checkpoint_seconds": round(time.perf_counter() - began, 2)}
            report["models"][variant] = {**written, **check_model(variant, path, plan, args, deadline)}
    report["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    write_json(args.out, report)
    print(table(report))
    print(f"written: {args.out} ({report['elapsed_seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
