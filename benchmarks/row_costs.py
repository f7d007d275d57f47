"""What the bench's short request pays per step beside long rows: step CPU time, idle against busy.

The bench's (d) sends a short request (8 frames, greedy talker) to an idle server and again while
8 long ones run (temperature 0.7, top-k 20, top-p 0.8); the code predictor samples with the
checkpoint's defaults in both. Most of that request's latency is steps, and beside the long rows
its steps are theirs: this measures such steps alone, on the counter engine's batch of the bench's
checkpoint, as thread CPU time (best of `--repeats` rounds of `--steps` steps, one torch thread as
in the Triton stub), so the machine's other load does not enter:

- `idle`: the short request alone; `busy`: it and 8 long rows (part-way through their text);
- `idle_greedy` and `busy_greedy`: the same rows with every draw greedy (no sampling at all);
- `ops`: per aten op, microseconds per step in `busy` over `idle` (torch profiler: the ops that
  grow with rows), largest first.

`busy / idle` is what the short request's steps cost more beside the long rows; nothing done
between steps (scheduling, the codec) can take it back.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from benchmarks.bench import FOLDER, ensure_checkpoints
from benchmarks.report import write_json
from devtools.servers import ROOT
from tts_engine.step.batch import RowStart
from tts_engine.step.counter_batch import CounterBatch
from tts_engine.step.prefix import Prefix
from tts_engine.step.sampling import RowSampling

PREDICTOR = RowSampling(True, 0.9, 50, 1.0)
"""The code predictor's sampling in every bench request (the checkpoint's `subtalker_*` defaults)."""
SHORT = (RowSampling(False, 1.0, 0, 1.0), PREDICTOR)
LONG = (RowSampling(True, 0.7, 20, 0.8), PREDICTOR)
GREEDY = (RowSampling(False, 1.0, 0, 1.0), RowSampling(False, 1.0, 0, 1.0))
LONG_ROWS, LONG_PREFIX, SHORT_PREFIX, LONG_DONE = 8, 60, 20, 100
"""Long rows, prefix tokens of a long and a short request, frames the long rows have made."""


def row_start(talker: Any, serial: int, tokens: int, settings: tuple[RowSampling, RowSampling]) -> RowStart:
    """A row with a random prefix of `tokens` tokens (the step's cost does not depend on its values)."""
    hidden, dtype = talker.config.hidden_size, next(talker.parameters()).dtype
    generator = torch.Generator().manual_seed(serial)
    prefix = Prefix(
        embeds=torch.randn(1, tokens, hidden, generator=generator).to(dtype),
        trailing_text=torch.randn(tokens, hidden, generator=generator).to(dtype),
        pad=torch.zeros(hidden, dtype=dtype),
    )
    return RowStart(serial, prefix, *settings, seed=serial, max_frames=10_000)


def batches(talker: Any) -> dict[str, CounterBatch]:
    """The four batches: the short row alone, and admitted beside long rows `LONG_DONE` frames in."""
    made = {}
    for idle, (short, long) in {"idle": (SHORT, LONG), "idle_greedy": (GREEDY, GREEDY)}.items():
        alone = CounterBatch(talker, max_rows=1, positions=1024)
        alone.admit([row_start(talker, 0, SHORT_PREFIX, short)])
        busy = CounterBatch(talker, max_rows=LONG_ROWS + 1, positions=1024)
        busy.admit([row_start(talker, 1 + i, LONG_PREFIX, long) for i in range(LONG_ROWS)])
        for _ in range(LONG_DONE):
            busy.step()
        busy.admit([row_start(talker, 0, SHORT_PREFIX, short)])
        made[idle], made[idle.replace("idle", "busy")] = alone, busy
    return made


def step_cpu_ms(batch: CounterBatch, steps: int, repeats: int) -> float:
    """Best thread CPU time of `steps` steps, per step (ms)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.thread_time()
        for _ in range(steps):
            batch.step()
        best = min(best, (time.thread_time() - started) / steps)
    return round(1000 * best, 3)


def op_growth(idle: CounterBatch, busy: CounterBatch, steps: int) -> list[dict[str, Any]]:
    """Per aten op, µs per step in `busy` and `idle` (profiler self CPU time), largest growth first."""
    spent = []
    for batch in (idle, busy):
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
            for _ in range(steps):
                batch.step()
        spent.append({event.key: event.self_cpu_time_total / steps for event in profile.key_averages()})
    names = sorted(set(spent[0]) | set(spent[1]), key=lambda n: spent[0].get(n, 0.0) - spent[1].get(n, 0.0))
    return [
        {"op": name, "idle_us": round(spent[0].get(name, 0.0), 1), "busy_us": round(spent[1].get(name, 0.0), 1)}
        for name in names[:8]
    ]


def measure(checkpoint: Path, steps: int, repeats: int) -> dict[str, Any]:
    from tts_engine.config import EngineConfig, Variant
    from tts_engine.loader import load_model

    config = EngineConfig(model_name="row_costs", variant=Variant.CUSTOM_VOICE, size="1.7B", weights=str(checkpoint))
    talker = load_model(config).model.talker
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            made = batches(talker)
            for batch in made.values():  # warm: the first steps of a shape build what later ones reuse
                step_cpu_ms(batch, 3, 1)
            cpu = {name: step_cpu_ms(batch, steps, repeats) for name, batch in made.items()}
            ops = op_growth(made["idle"], made["busy"], steps)
    finally:
        torch.set_num_threads(threads)
    return {
        "step_cpu_ms": cpu,
        "busy_over_idle": round(cpu["busy"] / cpu["idle"], 3),
        "busy_over_idle_greedy": round(cpu["busy_greedy"] / cpu["idle_greedy"], 3),
        "ms_per_added_row": round((cpu["busy"] - cpu["idle"]) / LONG_ROWS, 3),
        "ops": ops,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoints", type=Path, default=ROOT / ".cache" / "tiny-checkpoints-real")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    found = measure(ensure_checkpoints(args.checkpoints) / FOLDER, args.steps, args.repeats)
    for name, ms in found["step_cpu_ms"].items():
        print(f"{name:<12} {ms:8.3f} ms CPU a step")
    print(f"busy / idle: {found['busy_over_idle']} (all greedy: {found['busy_over_idle_greedy']}), "
          f"{found['ms_per_added_row']} ms a step per added row")  # fmt: skip
    for op in found["ops"]:
        print(f"  {op['op']:<40} idle {op['idle_us']:8.1f} us  busy {op['busy_us']:8.1f} us a step")
    if args.json:
        write_json(args.json, found)
        print(f"written: {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
