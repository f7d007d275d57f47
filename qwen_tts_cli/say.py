"""`qwen-tts say "text" --voice NAME -o out.mp3`: one synthesis, written to a file.

The format follows the output file's extension (wav, mp3, ogg, opus). A text up to the synchronous
limit goes to the synchronous endpoint (a long one is split into segments by the server); a longer
one (`--job`, or past 20,000 characters) becomes a job, waited for.
"""

from __future__ import annotations

import base64
import sys
import time
from pathlib import Path
from typing import Any

from qwen_tts_cli.client import Api, CliError
from qwen_tts_cli.voices import resolve

FORMATS = ("wav", "mp3", "ogg", "opus")
SYNC_LIMIT = 20_000
ENDPOINTS = {"custom_voice": "/tts/custom", "cloned_voice_generate": "/tts/cloned-voice/generate"}


def output_format(path: Path) -> str:
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise CliError(f"{path}: the file name must end in one of {', '.join('.' + f for f in FORMATS)}")
    return suffix


def write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary name and rename: an interrupted write never leaves a partial file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.replace(path)


def _wait_job(api: Api, job_id: str) -> dict[str, Any]:
    while True:
        job = api.get(f"/jobs/{job_id}/status")["job"]
        if job["status"] in ("completed", "failed", "cancelled"):
            result = api.get(f"/jobs/{job_id}/result")
            if not result.get("success"):
                raise CliError(f"job {job_id} {job['status']}: {result.get('error')}")
            return dict(result["result"])
        time.sleep(1.0)


def say(
    api: Api, *, text: str, voice: str, output: Path, language: str | None, as_job: bool, extra: dict[str, Any]
) -> int:
    if text == "-":
        text = sys.stdin.read()
    job_type, fields = resolve(api, voice)
    body: dict[str, Any] = {"text": text, "output_format": output_format(output), **fields, **extra}
    if language:
        body["language"] = language
    if as_job or len(text) > SYNC_LIMIT:
        job_id = api.post("/jobs", json={"job_type": job_type, "request_data": body})["job_id"]
        print(f"job {job_id} submitted", file=sys.stderr)
        answer = _wait_job(api, job_id)
    else:
        answer = api.post(ENDPOINTS[job_type], json=body)
    write_atomically(output, base64.b64decode(answer["audio_base64"]))
    segments = len(answer.get("segments") or []) or 1
    print(f"{output}: {answer['duration_seconds']:.2f} s of audio ({segments} segment(s))", file=sys.stderr)
    return 0
