"""Soak: the full stack (API -> Triton, tiny checkpoints) under steady mixed traffic for a while,
watching the resident memory and open file descriptors of the API and of each Triton model process.

`--concurrency` callers (16) each pick, again and again, one of: every synchronous TTS route
(`/tts/custom`, `/tts/design`, `/tts/clone/url`, `/tts/clone/upload`, `/tts/cloned-voice/generate`)
in every output format, the OpenAI-compatible `/v1/audio/speech` streamed in each of its formats,
a job of each type (submitted, followed to its end, its result read, deleted), a cloned voice
created and deleted, and the info routes. Every `--sample-seconds` the RSS and open fds of each
process are read from /proc. The report gives, per process, the median in the second quarter of
the run and in the last quarter and the growth between them (the first quarter is warm-up), and
the requests by route and status (anything but 2xx is counted as a failure).

    python -m benchmarks.soak --minutes 30 [--concurrency 16] [--database-url URL] [--json PATH]
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import soundfile as sf

from benchmarks.process_memory import Sampler, growth, triton_processes
from benchmarks.report import emit
from devtools.servers import audio_host, run_api, run_triton

MODELS = ["custom_voice_1_7b", "voice_design_1_7b", "voice_clone_1_7b"]
FORMATS = ("wav", "mp3", "ogg", "opus")
STREAM_FORMATS = ("mp3", "opus", "aac", "flac", "wav", "pcm")
TOKENS = 32  # frames per request: short rows, many requests
SPEAK = {"text": "Hola, esto es una prueba de resistencia.", "language": "Spanish", "max_new_tokens": TOKENS}
GROWTH_LIMIT_PERCENT = 5.0


def reference_wav(seconds: float = 2.0, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * 180 * t)).astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


class Traffic:
    """The operations the callers pick from, on one API; each returns (route label, status)."""

    def __init__(self, base: str, audio_url: str, wav: bytes, voice_id: str):
        self.base, self.audio_url, self.wav, self.voice_id = base, audio_url, wav, voice_id
        self.b64 = base64.b64encode(wav).decode()
        clone = {**SPEAK, "ref_text": "Hola, esta es mi voz"}
        self.bodies: dict[str, dict[str, Any]] = {
            "custom_voice": {**SPEAK, "speaker": "Ryan"},
            "voice_design": {**SPEAK, "voice_description": "una voz tranquila"},
            "voice_clone_url": {**clone, "ref_audio_url": audio_url},
            "voice_clone_file": {**clone, "ref_audio_base64": self.b64},
            "cloned_voice_generate": {**SPEAK, "voice_id": voice_id},
        }
        self.operations: list[Callable[[httpx.Client], tuple[str, int]]] = [
            self.custom, self.design, self.clone_url, self.clone_upload, self.cloned_voice,
            self.openai_speech, self.job, self.job, self.voice_round_trip, self.info,
        ]  # fmt: skip

    def custom(self, http: httpx.Client) -> tuple[str, int]:
        body = {**self.bodies["custom_voice"], "output_format": random.choice(FORMATS)}
        return "/tts/custom", http.post("/api/v1/tts/custom", json=body).status_code

    def design(self, http: httpx.Client) -> tuple[str, int]:
        body = {**self.bodies["voice_design"], "output_format": random.choice(FORMATS)}
        return "/tts/design", http.post("/api/v1/tts/design", json=body).status_code

    def clone_url(self, http: httpx.Client) -> tuple[str, int]:
        body = {**self.bodies["voice_clone_url"], "output_format": random.choice(FORMATS)}
        return "/tts/clone/url", http.post("/api/v1/tts/clone/url", json=body).status_code

    def clone_upload(self, http: httpx.Client) -> tuple[str, int]:
        form = {"text": SPEAK["text"], "ref_text": "Hola, esta es mi voz", "language": "Spanish",
                "output_format": random.choice(FORMATS), "max_new_tokens": str(TOKENS)}  # fmt: skip
        files = {"ref_audio": ("voice.wav", self.wav, "audio/wav")}
        return "/tts/clone/upload", http.post("/api/v1/tts/clone/upload", data=form, files=files).status_code

    def cloned_voice(self, http: httpx.Client) -> tuple[str, int]:
        body = {**self.bodies["cloned_voice_generate"], "output_format": random.choice(FORMATS)}
        return "/tts/cloned-voice/generate", http.post("/api/v1/tts/cloned-voice/generate", json=body).status_code

    def openai_speech(self, http: httpx.Client) -> tuple[str, int]:
        body = {"model": "custom_voice_1_7b", "input": SPEAK["text"], "voice": "Ryan", "max_new_tokens": TOKENS,
                "response_format": random.choice(STREAM_FORMATS)}  # fmt: skip
        with http.stream("POST", "/v1/audio/speech", json=body) as response:
            for _ in response.iter_bytes():
                pass
            return "/v1/audio/speech", response.status_code

    def job(self, http: httpx.Client) -> tuple[str, int]:
        job_type = random.choice(list(self.bodies))
        request = {**self.bodies[job_type], "output_format": random.choice(FORMATS)}
        created = http.post("/api/v1/jobs", json={"job_type": job_type, "request_data": request})
        if created.status_code != 200:
            return f"job {job_type}", created.status_code
        job_id = created.json()["job_id"]
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            status = http.get(f"/api/v1/jobs/{job_id}/status").json()["job"]["status"]
            if status in ("completed", "failed", "cancelled"):
                break
            time.sleep(0.2)
        result = http.get(f"/api/v1/jobs/{job_id}/result")
        http.delete(f"/api/v1/jobs/{job_id}")
        ok = result.status_code == 200 and result.json().get("success") is True
        return f"job {job_type}", 200 if ok else (result.status_code if result.status_code != 200 else 500)

    def voice_round_trip(self, http: httpx.Client) -> tuple[str, int]:
        form = {"name": "soak", "ref_text": "Hola, esta es mi voz", "language": "Spanish"}
        created = http.post("/api/v1/cloned-voices/upload", data=form, files={"ref_audio": ("v.wav", self.wav)})
        if created.status_code == 200:
            http.delete(f"/api/v1/cloned-voices/{created.json()['voice']['id']}")
        return "/cloned-voices (create, delete)", created.status_code

    def info(self, http: httpx.Client) -> tuple[str, int]:
        path = random.choice(("/api/v1/health", "/api/v1/models", "/api/v1/speakers", "/v1/models"))
        return path, http.get(path).status_code


def drive(traffic: Traffic, concurrency: int, seconds: float) -> Counter[tuple[str, int]]:
    counts: Counter[tuple[str, int]] = Counter()
    lock = threading.Lock()
    end = time.monotonic() + seconds

    def caller(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=traffic.base, timeout=300) as http:
            while time.monotonic() < end:
                operation = rng.choice(traffic.operations)
                try:
                    outcome = operation(http)
                except httpx.HTTPError as exc:
                    outcome = (f"{operation.__name__} ({type(exc).__name__})", -1)
                with lock:
                    counts[outcome] += 1

    threads = [threading.Thread(target=caller, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts


def main() -> None:
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")  # the API process gets it, as in the image
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sample-seconds", type=float, default=10.0)
    parser.add_argument("--database-url", default="", help="default: a SQLite file in a temporary folder")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    wav = reference_wav()
    with tempfile.TemporaryDirectory() as tmp, audio_host({"/voice.wav": wav}) as audio:
        logs = Path(tmp)
        database = args.database_url or f"sqlite:///{logs / 'soak.db'}"
        with (
            run_triton(MODELS, logs) as triton,
            run_api(triton.grpc_url, logs, database_url=database, model_healing_enabled="true") as api,  # as deployed
        ):
            form = {"name": "soak voice", "ref_text": "Hola, esta es mi voz", "language": "Spanish"}
            created = httpx.post(f"{api.url}/api/v1/cloned-voices/upload", data=form,
                                 files={"ref_audio": ("v.wav", wav)}, timeout=120)  # fmt: skip
            created.raise_for_status()
            traffic = Traffic(api.url, f"{audio}/voice.wav", wav, created.json()["voice"]["id"])

            def processes() -> dict[str, int]:
                return {"api": api.process.pid, **triton_processes(triton.process.pid)}

            sampler = Sampler(processes, args.sample_seconds)
            sampler.start()
            seconds = args.minutes * 60
            counts = drive(traffic, args.concurrency, seconds)
            samples = sampler.stop()
    report = growth(samples, seconds)
    failures = {f"{route} {status}": n for (route, status), n in sorted(counts.items()) if not 200 <= status < 300}
    figures: dict[str, Any] = {
        "minutes": args.minutes,
        "concurrency": args.concurrency,
        "requests": sum(counts.values()),
        "requests_by_route": dict(sorted(_by_route(counts).items())),
        "failures": failures,
        "processes": report,
        "growth_over_limit": sorted(n for n, r in report.items() if r["rss_growth_percent"] > GROWTH_LIMIT_PERCENT),
        "rss_mb_timeline": {name: [round(s.rss.get(name, 0) / 2**20) for s in samples] for name in report},
    }
    emit(figures, args.json)


def _by_route(counts: Counter[tuple[str, int]]) -> Counter[str]:
    by_route: Counter[str] = Counter()
    for (route, _), n in counts.items():
        by_route[route] += n
    return by_route


if __name__ == "__main__":
    main()
