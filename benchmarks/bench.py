"""Throughput and latency of the serving engine, in one run, on this machine's CPU.

Uses the tiny random checkpoints of the real codebook shape (codebook 2048, 16 code groups; made
here if missing) and the CustomVoice 1.7B layout:

(a) serial baseline: one request at a time through the package's own `generate_custom_voice`, in
    process (as the original service did), one torch thread like the Triton stub;
(b) the deployed path (API -> Triton) at concurrency 1, 4, 16 and 32 with mixed sampling settings
    and mixed text lengths, and uniform settings at 32 (the mixed/uniform ratio). At 32, mixed and
    uniform rounds alternate (M U M U, after a discarded round at 32): whatever drifts during the
    run, or is paid once for a batch size first reached (the CPU's matrix kernels are built per
    shape), falls on both alike instead of on whichever went first;
(c) time to first audio: STREAM=true straight to Triton over gRPC streaming, concurrency 1 and 16,
    and the time to the first byte of the same requests through the API (POST /v1/audio/speech,
    pcm, streamed) at the same concurrency: the difference is what the API adds;
(d) short requests arriving while long ones run, against the same short requests on an idle server
    (half of those before the long ones, half after: drift falls on both sides alike); the long
    ones are the longest seeds of twice as many tried first (`longest_seeds`: the same load in
    every run).

It prints a table and the goals (PASS/MISS, never asserted) and writes JSON with --json.

    python -m benchmarks.bench [--engine continuous|grouped] [--sampler counter|reference] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.report import Run, first_byte_overhead, goals, percentile, ratios, summarize, table, write_json
from devtools.servers import ROOT, run_api, run_triton
from devtools.streaming import stream

MODEL, FOLDER, SPEAKER = "custom_voice_1_7b", "Qwen3-TTS-12Hz-1.7B-CustomVoice", "Ryan"
TEXTS = (
    "Short one.",
    "A sentence of middling length, for the benchmark.",
    "A longer passage that keeps the model talking for a while: several clauses, a pause or two, "
    "and enough words that its prefill and its text track differ clearly from the short ones.",
)
# Mixed sampling settings cycle through these; uniform ones use the first.
SETTINGS: tuple[dict[str, Any], ...] = (
    {"temperature": 0.9, "top_k": 50, "top_p": 1.0, "repetition_penalty": 1.05},
    {"temperature": 0.0},
    {"temperature": 0.7, "top_k": 20, "top_p": 0.8, "repetition_penalty": 1.0},
    {"temperature": 1.2, "top_k": 100, "top_p": 0.95, "repetition_penalty": 1.1},
)


@dataclass(frozen=True)
class Profile:
    frames: tuple[int, int, int]
    """max_new_tokens per text length (random weights rarely stop early: length ~ this)."""
    serial_requests: int
    requests: dict[int, int]
    """Requests sent at each concurrency level."""
    long_requests: int
    long_frames: int
    short_requests: int
    short_frames: int
    first_audio_requests: int
    """Requests sent one at a time for the time to first audio (gRPC) and first byte (HTTP)."""
    rounds_32: int = 4
    """Mixed and uniform rounds each at concurrency 32 (alternated)."""


FULL = Profile((16, 32, 48), 12, {1: 4, 4: 8, 16: 32, 32: 64}, 8, 400, 12, 8, 9)
QUICK = Profile((8, 12, 16), 3, {1: 2, 4: 4, 16: 16, 32: 32}, 4, 160, 3, 4, 3, rounds_32=1)


def body(index: int, profile: Profile, *, uniform: bool = False) -> dict[str, Any]:
    kind = index % len(TEXTS)
    settings = SETTINGS[0] if uniform else SETTINGS[index % len(SETTINGS)]
    text = {"text": TEXTS[kind], "speaker": SPEAKER, "language": "English", "max_new_tokens": profile.frames[kind]}
    return {**text, **settings}


def serial_baseline(checkpoint: Path, bodies: list[dict[str, Any]]) -> Run:
    """(a) One request at a time through `Qwen3TTSModel.generate_custom_voice`, in this process."""
    import torch
    from qwen_tts import Qwen3TTSModel

    from tts_engine.requests import SamplingParams

    torch.set_num_threads(1)  # as the Triton stub runs (OMP_NUM_THREADS=1 in devtools/servers.py)
    model = Qwen3TTSModel.from_pretrained(str(checkpoint), device_map="cpu", dtype=torch.float32)

    def one(spec: dict[str, Any]) -> tuple[float, float]:
        keys = ("temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens")
        kwargs = SamplingParams(**{k: spec[k] for k in keys if k in spec}).generate_kwargs()
        started = time.perf_counter()
        wavs, rate = model.generate_custom_voice(spec["text"], spec["speaker"], spec["language"], **kwargs)
        return time.perf_counter() - started, wavs[0].size / rate

    one(bodies[0])  # warm-up
    started = time.perf_counter()
    results = [one(spec) for spec in bodies]
    wall = time.perf_counter() - started
    return summarize([r[0] for r in results], [r[1] for r in results], wall, concurrency=1)


def post(client: httpx.Client, spec: dict[str, Any]) -> tuple[float, float] | None:
    """Latency and audio seconds of one /tts/custom, None when it failed."""
    started = time.perf_counter()
    response = client.post("/tts/custom", json=spec)
    latency = time.perf_counter() - started
    return (latency, float(response.json()["duration_seconds"])) if response.status_code == 200 else None


def concurrently(work: Callable[[Any], Any], items: list[Any], workers: int) -> tuple[list[Any], float]:
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(work, items))
    return results, time.perf_counter() - started


def answered(results: list[tuple[float, float] | None], wall: float, concurrency: int) -> Run:
    done = [r for r in results if r is not None]
    return summarize([r[0] for r in done], [r[1] for r in done], wall, concurrency, errors=len(results) - len(done))


def deployed(client: httpx.Client, bodies: list[dict[str, Any]], concurrency: int) -> Run:
    """(b) Requests through the API, `concurrency` callers at once."""
    return answered(*concurrently(lambda spec: post(client, spec), bodies, concurrency), concurrency)


def mixed_and_uniform(client: httpx.Client, profile: Profile) -> tuple[Run, Run]:
    """(b) At 32: a discarded round, then mixed and uniform rounds alternated."""
    count = profile.requests[32]
    bodies = {"mixed": [body(i, profile) for i in range(count)]}
    bodies["uniform"] = [body(i, profile, uniform=True) for i in range(count)]
    deployed(client, bodies["uniform"], 32)  # warm-up: the batch sizes up to 32 once
    results: dict[str, list[Any]] = {"mixed": [], "uniform": []}
    walls = {"mixed": 0.0, "uniform": 0.0}
    for _ in range(profile.rounds_32):
        for kind, specs in bodies.items():
            answers, wall = concurrently(lambda spec: post(client, spec), specs, 32)
            results[kind] += answers
            walls[kind] += wall
    return answered(results["mixed"], walls["mixed"], 32), answered(results["uniform"], walls["uniform"], 32)


def first_audio(grpc_url: str, specs: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
    """(c) STREAM=true straight to Triton: seconds until the first response carrying audio."""
    import tritonclient.grpc as grpc

    from api.inference.tensors import SynthesisCall, build_inputs

    def one(spec: dict[str, Any]) -> tuple[float, int]:
        inputs = build_inputs(SynthesisCall(**spec))
        flag = grpc.InferInput("STREAM", [1, 1], "BOOL")
        flag.set_data_from_numpy(np.array([[True]]))
        answer = stream(grpc_url, MODEL, [*inputs, flag])
        return answer.arrivals[0], len(answer.results)

    results, _ = concurrently(one, specs, concurrency)
    firsts = [r[0] for r in results]
    chunks = percentile([float(r[1]) for r in results], 50)
    return {"p50": round(percentile(firsts, 50), 3), "p95": round(percentile(firsts, 95), 3), "chunks_p50": chunks}


def first_byte(api_url: str, specs: list[dict[str, Any]], concurrency: int) -> dict[str, Any]:
    """(c) The same requests through the API's streamed speech: seconds until the first body byte."""
    sampling = ("temperature", "top_k", "top_p", "repetition_penalty", "max_new_tokens")

    def one(client: httpx.Client, spec: dict[str, Any]) -> float:
        speech = {"model": MODEL, "input": spec["text"], "voice": spec["speaker"], "language": spec["language"]}
        speech |= {"response_format": "pcm", **{k: spec[k] for k in sampling if k in spec}}
        started = time.perf_counter()
        with client.stream("POST", f"{api_url}/v1/audio/speech", json=speech) as response:
            pieces = response.iter_raw()
            first = next(pieces) if response.status_code == 200 else b""
            elapsed = time.perf_counter() - started
            for _ in pieces:  # the whole answer, as a client would (the row is not cut short)
                pass
        if not first:
            raise RuntimeError(f"/v1/audio/speech answered {response.status_code}")
        return elapsed

    with httpx.Client(timeout=600, limits=httpx.Limits(max_connections=64)) as client:
        firsts, _ = concurrently(lambda spec: one(client, spec), specs, concurrency)
    return {"p50": round(percentile(firsts, 50), 3), "p95": round(percentile(firsts, 95), 3)}


def _staggered_shorts(
    client: httpx.Client, profile: Profile, start_after: float, count: int
) -> list[tuple[float, float]]:
    """`count` short requests sent 0.2 s apart, each on its own thread; their (latency, finished at)."""
    spec = {**body(0, profile), "max_new_tokens": profile.short_frames, "temperature": 0.0}
    out: list[tuple[float, float]] = []

    def one(delay: float) -> None:
        time.sleep(delay)
        result = post(client, spec)
        if result is not None:
            out.append((result[0], time.perf_counter()))

    threads = [threading.Thread(target=one, args=(start_after + 0.2 * i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return out


def longest_seeds(client: httpx.Client, profile: Profile) -> list[int]:
    """Seeds of the `long_requests` longest of twice as many seeded long requests, sent together.
    Random weights sample EOS at random: unseeded, some "long" rows stopped after a few frames and
    the load of (d) changed from run to run; a seed gives the same row every time (and with the
    counter sampler whoever shares the batch), so (d) runs the same long rows in every run."""
    candidates = range(2 * profile.long_requests)
    spec = {**body(2, profile), "max_new_tokens": profile.long_frames}
    found, _ = concurrently(lambda seed: post(client, {**spec, "seed": seed}), list(candidates), len(candidates))
    seconds = {seed: result[1] if result else 0.0 for seed, result in zip(candidates, found, strict=True)}
    return sorted(candidates, key=lambda seed: (-seconds[seed], seed))[: profile.long_requests]


def short_during_long(client: httpx.Client, profile: Profile) -> dict[str, Any]:
    """(d) p50 latency of short requests while long generations run, and on an idle server."""
    seeds = longest_seeds(client, profile)
    idle = _staggered_shorts(client, profile, 0.0, profile.short_requests // 2)
    long_spec = {**body(2, profile), "max_new_tokens": profile.long_frames}
    long_ends: list[float] = []
    long_results: list[tuple[float, float] | None] = []

    def long_one(seed: int) -> None:
        long_results.append(post(client, {**long_spec, "seed": seed}))
        long_ends.append(time.perf_counter())

    longs = [threading.Thread(target=long_one, args=(seed,)) for seed in seeds]
    for thread in longs:
        thread.start()
    busy = _staggered_shorts(client, profile, 0.5, profile.short_requests)  # once the long rows decode
    for thread in longs:
        thread.join()
    idle += _staggered_shorts(client, profile, 0.0, profile.short_requests - profile.short_requests // 2)
    return {
        "long_requests": profile.long_requests,
        "long_frames": profile.long_frames,
        "long_seeds": seeds,
        "short_frames": profile.short_frames,
        "idle_p50": round(percentile([r[0] for r in idle], 50), 3),
        "busy_p50": round(percentile([r[0] for r in busy], 50), 3),
        "long_audio_seconds": sorted(round(r[1], 2) for r in long_results if r),
        # how many long requests were still running when the last short one finished (random
        # weights may emit EOS early in a few rows)
        "long_running_at_last_short": sum(end > max((r[1] for r in busy), default=0.0) for end in long_ends),
    }


def ensure_checkpoints(root: Path) -> Path:
    script = ROOT / "scripts" / "make_tiny_checkpoints.py"
    subprocess.run(
        [sys.executable, str(script), "--real-codebook", "--out", str(root)], check=True, capture_output=True
    )
    return root


def measure_servers(profile: Profile, checkpoints: Path, logs: Path) -> dict[str, Any]:
    with (
        run_triton([MODEL], logs, weights_dir=checkpoints) as triton,
        run_api(triton.grpc_url, logs, max_inflight_requests="256") as api,
        httpx.Client(base_url=f"{api.url}/api/v1", timeout=600, limits=httpx.Limits(max_connections=64)) as client,
    ):
        post(client, body(0, profile))  # warm-up
        mixed = {}
        for level, count in profile.requests.items():
            if level != 32:
                mixed[level] = deployed(client, [body(i, profile) for i in range(count)], level)
                print(f"deployed mixed, concurrency {level}: {mixed[level].throughput:.2f} audio s/s", flush=True)
        mixed[32], uniform = mixed_and_uniform(client, profile)
        print(f"at 32: mixed {mixed[32].throughput:.2f}, uniform {uniform.throughput:.2f} audio s/s", flush=True)
        specs = [body(i, profile) for i in range(16)]
        alone = specs[: profile.first_audio_requests]
        ttfa = {"1": first_audio(triton.grpc_url, alone, 1), "16": first_audio(triton.grpc_url, specs, 16)}
        ttfb = {"1": first_byte(api.url, alone, 1), "16": first_byte(api.url, specs, 16)}
        short = short_during_long(client, profile)
    return {"mixed": mixed, "uniform": uniform, "ttfa": ttfa, "ttfb": ttfb, "short": short}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engine", choices=("continuous", "grouped"), default="continuous")
    parser.add_argument(
        "--sampler", choices=("counter", "reference"), default="counter", help="the continuous engine's sampler"
    )
    parser.add_argument("--quick", action="store_true", help="fewer and shorter requests (a smoke run)")
    parser.add_argument("--checkpoints", type=Path, default=ROOT / ".cache" / "tiny-checkpoints-real")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    profile = QUICK if args.quick else FULL
    ensure_checkpoints(args.checkpoints)
    os.environ["QWEN_TTS_ENGINE"] = args.engine  # the Triton server started below inherits them
    os.environ["QWEN_TTS_SAMPLER"] = args.sampler
    serial = serial_baseline(args.checkpoints / FOLDER, [body(i, profile) for i in range(profile.serial_requests)])
    print(f"serial baseline: {serial.throughput:.2f} audio s/s", flush=True)
    measured = measure_servers(profile, args.checkpoints, Path(tempfile.mkdtemp(prefix="bench-")))
    mixed, uniform, short = measured["mixed"], measured["uniform"], measured["short"]
    found = ratios(serial, mixed, uniform, short["idle_p50"], short["busy_p50"], measured["ttfa"]["16"]["p50"])
    found |= first_byte_overhead(measured["ttfa"], measured["ttfb"])
    report = {
        "engine": args.engine,
        "sampler": args.sampler,
        "quick": args.quick,
        "checkpoint": str(args.checkpoints / FOLDER),
        "cpu_count": os.cpu_count(),
        "serial": serial.as_dict(),
        "deployed": {
            "mixed": {str(k): run.as_dict() for k, run in mixed.items()},
            "uniform": {"32": uniform.as_dict()},
        },
        "ttfa": measured["ttfa"],
        "ttfb": measured["ttfb"],
        "short_during_long": short,
        "ratios": found,
        "goals": goals(found),
    }
    print(table(report))
    if args.json:
        write_json(args.json, report)


if __name__ == "__main__":
    main()
