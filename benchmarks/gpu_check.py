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
import traceback
from dataclasses import dataclass, replace
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from benchmarks.gpu_report import VARIANTS

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
    codec_repeats: int = 5


FULL = Plan((1, 16, 64), 3, (40, 80, 120, 160), 45.0, (1, 16, 64), 10, True)
QUICK = Plan((1, 2, 4), 2, (6, 10, 14), 20.0, (1, 4), 2, False, codec_repeats=1)


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


def check_model(
    variant: str, path: Path, plan: Plan, args: argparse.Namespace, deadline: float, result: dict[str, Any]
) -> None:
    """Fills `result` as it goes (what was measured stays there if a later part fails)."""
    import torch

    from benchmarks.codec_calls import QUICK_SHAPES, SHAPES, codec_calls
    from benchmarks.engine_load import LoadRun
    from tts_engine.config import EngineConfig, Variant
    from tts_engine.loader import load_model
    from tts_engine.scheduling.engine import Engine

    kind = Variant(variant)
    config = EngineConfig(
        model_name=f"{variant}_1_7b", variant=kind, size="1.7B", weights=str(path), device=args.device,
        dtype="auto", max_batch_rows=max(plan.levels), cuda_graphs=args.graphs, codec_graphs=args.codec_graphs,
        codec_process=args.codec_process,
    )  # fmt: skip
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    started = time.perf_counter()
    tts = load_model(config)
    engine = Engine.for_model(tts, kind)
    result["load_seconds"] = round(time.perf_counter() - started, 2)
    result["parameters"] = sum(p.numel() for p in tts.model.parameters())
    result["step_profile"] = step_profile(engine, config, plan)
    if args.graphs == "record" or (args.graphs == "auto" and cuda):  # eagerly: what graphs save, sampling alone
        result["step_profile_eager"] = step_profile(engine, replace(config, cuda_graphs="off"), plan)
    shapes = QUICK_SHAPES if plan is QUICK else SHAPES
    result["codec_calls"] = codec_calls(tts, args.graphs, shapes, plan.codec_repeats)  # eager and replayed
    runner = runner_for(engine, config)
    load = LoadRun(runner, kind)
    load.level(max(plan.levels), max(plan.levels), plan.lengths[:1], plan.level_seconds)  # warm-up
    result["runs"] = []
    for level in plan.levels:
        if time.perf_counter() + plan.level_seconds + 30 > deadline:
            result["runs"].append({"concurrency": level, "skipped": "out of time (--budget)"})
            continue
        run = load.level(level, level * plan.requests_per_client, plan.lengths, plan.level_seconds)
        result["runs"].append(run)
        print(f"  {variant} c={level}: {json.dumps(run)}", flush=True)
    load.close()
    captured, fallbacks = runner.graphs()
    result["graphs"] = {"mode": args.graphs, "captured": captured, "fallbacks": fallbacks}
    cache = getattr(getattr(runner, "_batch", None), "cache", None)
    result["kv_cache_gib"] = round(cache.nbytes / 2**30, 2) if cache is not None else None
    if cuda:
        result["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)


def runner_for(engine: Any, config: Any) -> Any:
    from tts_engine.scheduling.runners import build_runner

    return build_runner(engine, config, config.max_batch_rows)


def step_profile(engine: Any, config: Any, plan: Plan) -> list[dict[str, Any]]:
    """Steps at each of the plan's batch sizes, split by part, on a runner of their own (freed after)."""
    import gc

    import torch

    from benchmarks.step_phases import profile

    runner = runner_for(engine, config)
    device = torch.device(config.device)
    try:
        return [profile(runner, config.variant, rows, plan.profile_steps, device) for rows in plan.profile_rows]
    finally:
        runner.close()
        del runner
        gc.collect()
        if device.type == "cuda":
            torch.cuda.empty_cache()


def environment(device: str) -> dict[str, Any]:
    import torch

    info: dict[str, Any] = {"device": device, "torch": torch.__version__}
    info["transformers"] = metadata.version("transformers")
    if device.startswith("cuda"):
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=None, help="cuda, cuda:N or cpu (default: cuda when there is one)")
    parser.add_argument("--quick", action="store_true", help="tiny checkpoints and small levels (the CPU test)")
    parser.add_argument("--wheels", type=Path, default=None, help="folder of wheels for what the machine lacks")
    graphs = ("auto", "off", "record")
    parser.add_argument(
        "--graphs", default="auto", choices=graphs, help="QWEN_TTS_CUDA_GRAPHS; record: the CPU stand-in"
    )
    parser.add_argument("--codec-graphs", default="off", choices=graphs, help="QWEN_TTS_CODEC_GRAPHS")
    parser.add_argument("--codec-process", default="off", choices=("on", "off"), help="QWEN_TTS_CODEC_PROCESS")
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for the whole check")
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=VARIANTS)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    bootstrap(args.wheels)
    import torch

    from benchmarks.gpu_report import GOALS, measured, table
    from benchmarks.report import goals, write_json

    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    plan = QUICK if args.quick else FULL
    deadline = started + args.budget
    report: dict[str, Any] = {"environment": environment(args.device), "plan": plan.__dict__, "models": {}}
    failed = False
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as scratch:
        for variant in args.variants:
            result: dict[str, Any] = report["models"].setdefault(variant, {})
            if time.perf_counter() > deadline - 60:
                result["skipped"] = "out of time (--budget)"
                continue
            print(f"[{time.perf_counter() - started:5.0f} s] {variant}: writing the checkpoint", flush=True)
            try:
                began = time.perf_counter()
                path = write_checkpoint(Path(scratch), variant, plan, args.device)
                result["checkpoint_seconds"] = round(time.perf_counter() - began, 2)
                check_model(variant, path, plan, args, deadline, result)
            except Exception as exc:  # the next model still runs, and what was measured is kept
                failed = True
                result["error"] = "".join(traceback.format_exception(exc))[-4000:]
                print(result["error"], file=sys.stderr, flush=True)
            finally:
                release(args.device)
            report["elapsed_seconds"] = round(time.perf_counter() - started, 1)
            write_json(args.out, report)  # after each model: a run cut short keeps what it measured
    report["goals"] = goals(measured(report), GOALS)
    write_json(args.out, report)
    print(table(report))
    for goal in report["goals"]:
        print(f"{goal['verdict']:4}  {goal['goal']}: {goal['value']}")
    print(f"written: {args.out} ({report['elapsed_seconds']} s)")
    return 1 if failed else 0


def release(device: str) -> None:
    """Give the model's memory back before the next one loads."""
    import gc

    import torch

    gc.collect()
    if device.startswith("cuda"):
        torch.cuda.empty_cache()


if __name__ == "__main__":
    raise SystemExit(main())
