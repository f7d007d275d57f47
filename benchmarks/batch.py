"""Batch API against the same items one by one, in one run, on this machine.

Starts Triton (CustomVoice 1.7B layout, tiny random checkpoints) and the API (SQLite, or
`--database-url`), then voices the same N items twice: (a) the baseline, one by one through the
synchronous endpoint POST /tts/custom, as a client loop would; (b) as one batch (POST /batches, its
items run concurrently by the batch lane), from submission to the last item finished. Reports items
per second and audio seconds per second of each, their ratio (goal: the batch >= 8x), and the time a
single job submitted mid-batch waited to start, and the CPU each phase took per item by process (the
model's Triton stub, tritonserver, the API, this client: benchmarks/proc_cpu.py). Prints a table and
PASS/MISS (never asserted).

    python -m benchmarks.batch [--items 500] [--max-new-tokens 16] [--real-codebook] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks import proc_cpu
from benchmarks.bench import ensure_checkpoints
from devtools.servers import ROOT, TINY_DIR, run_api, run_triton

MODEL = "custom_voice_1_7b"
GOAL = 8.0
TEXTS = [
    "Buenos días, su pedido ha sido enviado.",
    "The meeting has been moved to Thursday afternoon.",
    "Gracias por llamar, un agente le atenderá en breve.",
    "Your verification code is four, seven, two, nine.",
]


def request(i: int, max_new_tokens: int) -> dict[str, Any]:
    text = TEXTS[i % len(TEXTS)]
    return {"text": text, "speaker": "Ryan", "max_new_tokens": max_new_tokens, "temperature": 0.0, "seed": i}


def one_by_one(client: httpx.Client, n: int, max_new_tokens: int) -> dict[str, float]:
    audio, started = 0.0, time.perf_counter()
    for i in range(n):
        response = client.post("/tts/custom", json=request(i, max_new_tokens))
        response.raise_for_status()
        audio += response.json()["duration_seconds"]
    return {"seconds": time.perf_counter() - started, "audio_seconds": audio}


def as_batch(client: httpx.Client, n: int, max_new_tokens: int) -> dict[str, float]:
    items = [{"custom_id": f"i{i}", "job_type": "custom_voice", "request_data": request(i, max_new_tokens)}
             for i in range(n)]  # fmt: skip
    started = time.perf_counter()
    batch_id = client.post("/batches", json=items).raise_for_status().json()["batch_id"]
    single_wait = None
    while True:
        state = client.get(f"/batches/{batch_id}").json()
        counts = state["counts"]
        if single_wait is None and counts["completed"] >= n // 2:  # a single job arrives mid-batch
            job = {"job_type": "custom_voice", "request_data": request(0, max_new_tokens)}
            job_id = client.post("/jobs", json=job).json()["job_id"]
            while (view := client.get(f"/jobs/{job_id}/status").json()["job"])["started_at"] is None:
                time.sleep(0.01)
            single_wait = max(0.0, view["started_at"] - view["created_at"])  # clocks of one host
        if state["status"] == "completed":
            break
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    if counts["completed"] != n:
        raise RuntimeError(f"batch finished with {counts}")
    return {"seconds": seconds, "audio_seconds": state["audio_seconds"], "single_job_start_wait": single_wait or 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--real-codebook", action="store_true", help="the tiny checkpoints of the real codebook shape")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    # as benchmarks.bench: codebook 2048, 16 code groups (made once)
    checkpoints = ensure_checkpoints(ROOT / ".cache" / "tiny-checkpoints-real") if args.real_codebook else TINY_DIR
    logs = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    settings = {"database_url": args.database_url} if args.database_url else {}
    with (
        run_triton([MODEL], logs, weights_dir=checkpoints) as triton,
        run_api(triton.grpc_url, logs, **settings) as api,
        httpx.Client(base_url=f"{api.url}/api/v1", timeout=600) as client,
    ):
        client.post("/tts/custom", json=request(0, args.max_new_tokens)).raise_for_status()  # warm-up
        groups = [triton.process.pid, api.process.pid]  # each server leads a process group
        cpu: dict[str, dict[str, float]] = {}
        runs: dict[str, dict[str, float]] = {}
        for name, phase in (("one_by_one", one_by_one), ("batch", as_batch)):
            before = proc_cpu.snapshot(groups, client=True)
            runs[name] = phase(client, args.items, args.max_new_tokens)
            after = proc_cpu.snapshot(groups, client=True)
            cpu[name] = proc_cpu.per_item_ms(before, after, args.items)
    report: dict[str, Any] = {"items": args.items, "max_new_tokens": args.max_new_tokens,
                              "checkpoints": "real codebook" if args.real_codebook else "tiny",
                              "load_average": round(os.getloadavg()[0], 2)}  # fmt: skip
    for name, run in runs.items():
        report[name] = {
            **{key: round(value, 3) for key, value in run.items()},
            "items_per_second": round(args.items / run["seconds"], 2),
            "audio_seconds_per_second": round(run["audio_seconds"] / run["seconds"], 2),
            "cpu_ms_per_item": cpu[name],
        }
    baseline, batch = runs["one_by_one"], runs["batch"]
    ratio = baseline["seconds"] / batch["seconds"]
    report["speedup_items_per_second"] = round(ratio, 2)
    report["goal"] = {"target": f">= {GOAL}x", "verdict": "PASS" if ratio >= GOAL else "MISS"}
    print(f"{'':12} {'items/s':>9} {'audio s/s':>10} {'wall s':>8}")
    for name in ("one_by_one", "batch"):
        run = report[name]
        print(f"{name:12} {run['items_per_second']:>9} {run['audio_seconds_per_second']:>10} {run['seconds']:>8}")
    print(f"batch vs one by one: {ratio:.2f}x (goal >= {GOAL}x): {report['goal']['verdict']}")
    print(f"single job submitted mid-batch started after {batch['single_job_start_wait']:.3f} s")
    for name in ("one_by_one", "batch"):
        print(f"CPU ms per item, {name}: {report[name]['cpu_ms_per_item']}")
    print(f"load average (1 min) at the end: {report['load_average']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
