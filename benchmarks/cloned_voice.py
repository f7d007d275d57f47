"""Measure what a stored clone prompt saves, through the deployed path (API -> Triton -> tiny checkpoints).

Two ways to speak with the same reference recording, one request at a time, interleaved:
- stored:   POST /tts/cloned-voice/generate (the voice's clone prompt was computed once, at creation)
- baseline: POST /tts/clone/upload (the reference is uploaded, decoded and encoded on every request)
Greedy decoding and the same text, so both generate the same frames. Reports the median latency
of each, seen by the client and as the API's own `processing_time_seconds`, and their ratio.

    python -m benchmarks.cloned_voice [--requests 10] [--max-new-tokens 12] [--ref-seconds 5] [--json PATH]
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import soundfile as sf

from benchmarks.report import emit
from devtools.servers import run_api, run_triton

MODEL = "voice_clone_1_7b"
TEXT = "Hola, este es un mensaje de prueba con mi voz clonada."
REF_TEXT = "Hola, esta es mi voz de referencia para clonar."


def reference_wav(seconds: float, rate: int = 24000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    signal = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    buffer = io.BytesIO()
    sf.write(buffer, signal.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def timed(send: Callable[[], httpx.Response]) -> tuple[float, float, float]:
    """(client seconds, API processing seconds, audio seconds) of one request."""
    started = time.perf_counter()
    response = send()
    response.raise_for_status()
    body = response.json()
    return time.perf_counter() - started, body["processing_time_seconds"], body["duration_seconds"]


def run(client: httpx.Client, args: argparse.Namespace) -> dict[str, object]:
    wav = reference_wav(args.ref_seconds)
    params = {"max_new_tokens": args.max_new_tokens, "temperature": 0.0}
    created = client.post(
        "/cloned-voices/upload",
        data={"name": "Bench voice", "ref_text": REF_TEXT, "language": "Spanish"},
        files={"ref_audio": ("ref.wav", wav, "audio/wav")},
    )
    created.raise_for_status()
    voice_id = created.json()["voice"]["id"]

    def stored() -> httpx.Response:
        return client.post("/tts/cloned-voice/generate", json={"text": TEXT, "voice_id": voice_id, **params})

    def baseline() -> httpx.Response:
        form = {"text": TEXT, "ref_text": REF_TEXT, "language": "Spanish", **{k: str(v) for k, v in params.items()}}
        return client.post("/tts/clone/upload", data=form, files={"ref_audio": ("ref.wav", wav, "audio/wav")})

    timed(stored), timed(baseline)  # warm-up
    runs: dict[str, list[tuple[float, float, float]]] = {"stored": [], "baseline": []}
    for _ in range(args.requests):  # interleaved: drift on a shared machine hits both alike
        runs["stored"].append(timed(stored))
        runs["baseline"].append(timed(baseline))
    med = {name: [statistics.median(r[i] for r in rows) for i in range(3)] for name, rows in runs.items()}
    return {
        "requests_each": args.requests,
        "stored_prompt_p50_seconds": round(med["stored"][0], 4),
        "raw_reference_p50_seconds": round(med["baseline"][0], 4),
        "speedup_raw_over_stored": round(med["baseline"][0] / med["stored"][0], 2),
        "stored_prompt_api_processing_p50_seconds": round(med["stored"][1], 4),
        "raw_reference_api_processing_p50_seconds": round(med["baseline"][1], 4),
        "audio_seconds_stored_vs_raw": [med["stored"][2], med["baseline"][2]],
        "reference_seconds": args.ref_seconds,
        "max_new_tokens": args.max_new_tokens,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--max-new-tokens", type=int, default=12)
    parser.add_argument("--ref-seconds", type=float, default=5.0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    logs = Path(tempfile.mkdtemp(prefix="bench-cloned-voice-"))
    database = f"sqlite:///{logs / 'bench.db'}"
    with (
        run_triton([MODEL], logs) as triton,
        run_api(triton.grpc_url, logs, database_url=database) as api,
        httpx.Client(base_url=f"{api.url}/api/v1", timeout=600) as client,
    ):
        result = run(client, args)
    emit(result, args.json, width=42)


if __name__ == "__main__":
    main()
