"""Measure the deployed path (API -> Triton -> tiny checkpoints) on this machine, in one run.

Reports: Triton start time, the latency of one /tts/custom (sequential baseline), and 8
concurrent callers: wall time, throughput ratio against the sequential baseline, and how many
requests Triton put into each execution (from its own statistics).

    python -m benchmarks.api_calls [--requests 8] [--max-new-tokens 24] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from benchmarks.report import emit
from devtools.servers import run_api, run_triton

MODEL = "custom_voice_1_7b"


def post(client: httpx.Client, text: str, max_new_tokens: int) -> float:
    started = time.perf_counter()
    body = {
        "text": text,
        "speaker": "Ryan",
        "language": "English",
        "max_new_tokens": max_new_tokens,
        "temperature": 0.0,
    }  # greedy on one text: every request does the same work
    response = client.post("/tts/custom", json=body)
    response.raise_for_status()
    return time.perf_counter() - started


def batch_sizes(triton_http: str) -> dict[int, int]:
    stats = httpx.get(f"{triton_http}/v2/models/{MODEL}/stats").json()["model_stats"][0]
    return {int(b["batch_size"]): int(b["compute_infer"]["count"]) for b in stats.get("batch_stats", [])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=24)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    text = "Hello world, this is a benchmark sentence for the serving path."
    logs = Path(tempfile.mkdtemp(prefix="bench-api-"))
    started = time.perf_counter()
    with run_triton([MODEL], logs) as triton:
        start_seconds = time.perf_counter() - started
        with run_api(triton.grpc_url, logs) as api, httpx.Client(base_url=f"{api.url}/api/v1", timeout=600) as client:
            post(client, text, args.max_new_tokens)  # warm-up
            sequential = [post(client, text, args.max_new_tokens) for _ in range(args.requests)]
            before = batch_sizes(triton.http_url)
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.requests) as pool:
                concurrent = list(pool.map(lambda _: post(client, text, args.max_new_tokens), range(args.requests)))
            concurrent_wall = time.perf_counter() - t0
            after = batch_sizes(triton.http_url)
    executions = {size: after.get(size, 0) - before.get(size, 0) for size in after}
    executions = {size: n for size, n in sorted(executions.items()) if n}
    sequential_wall = sum(sequential)
    result = {
        "triton_start_seconds": round(start_seconds, 2),
        "latency_one_request_seconds_p50": round(statistics.median(sequential), 3),
        "sequential_wall_seconds": round(sequential_wall, 3),
        "concurrent_callers": args.requests,
        "concurrent_wall_seconds": round(concurrent_wall, 3),
        "concurrent_latency_p50_seconds": round(statistics.median(concurrent), 3),
        "throughput_ratio_vs_sequential": round(sequential_wall / concurrent_wall, 2),
        "executions_by_batch_size": executions,
        "requests_per_execution": round(
            sum(s * n for s, n in executions.items()) / max(1, sum(executions.values())), 2
        ),
        "max_new_tokens": args.max_new_tokens,
    }
    emit(result, args.json, width=36)


if __name__ == "__main__":
    main()
