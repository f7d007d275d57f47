"""`qwen-tts batch lines.jsonl --out DIR`: a file of lines voiced through the batch API, each line's
audio written to DIR as it is ready, with a progress bar (items, audio seconds, ETA).

A line is a JSON object: `{"text": ..., "custom_id"?: ..., "voice"?: ..., other request fields}`
(spoken with `--voice` when it names none), a full batch item (`job_type`, `request_data`,
`custom_id`), or plain text. An item without `custom_id` is named after its line (`line-00042`).

Resuming: DIR/.qwen-tts-batch.json remembers the batch of this input. Running the same command
again (after Ctrl-C, a crash, a lost connection) follows that batch instead of submitting another,
and never downloads a file that is already in DIR; the submission itself carries an Idempotency-Key
derived from the items, so even a crash between submitting and saving the state makes no second
batch. Ctrl-C stops after the download under way.
"""

from __future__ import annotations

import base64
import hashlib
import json
import signal
import time
from pathlib import Path
from typing import Any

from qwen_tts_cli.client import Api, CliError
from qwen_tts_cli.progress import Progress
from qwen_tts_cli.say import write_atomically
from qwen_tts_cli.voices import resolve

STATE = ".qwen-tts-batch.json"
FINISHED = ("completed", "failed", "cancelled")
PAGE = 500


class Interrupted(Exception):
    """Ctrl-C: stopped between two downloads."""


def read_items(api: Api, path: Path, *, voice: str | None, fmt: str, language: str | None) -> list[dict[str, Any]]:
    voices: dict[str, tuple[str, dict[str, Any]]] = {}
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            value = line
        value = {"text": value} if isinstance(value, str) else value
        if not isinstance(value, dict):
            raise CliError(f"{path}:{number}: expected a JSON object or a line of text")
        custom_id = value.pop("custom_id", None) or f"line-{number:05d}"
        if "job_type" in value:
            items.append({"custom_id": custom_id, **value})
            continue
        name = value.pop("voice", None) or voice
        if not name:
            raise CliError(f'{path}:{number}: no voice (give --voice, or a "voice" on the line)')
        job_type, fields = voices.get(name) or voices.setdefault(name, resolve(api, name))
        request = {**fields, "output_format": fmt, **({"language": language} if language else {}), **value}
        items.append({"custom_id": custom_id, "job_type": job_type, "request_data": request})
    if not items:
        raise CliError(f"{path}: no lines to voice")
    return items


def digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def file_of(item: dict[str, Any]) -> str:
    return f"{item['custom_id']}.{item['request_data'].get('output_format', 'wav')}"


def _batch_of(api: Api, out: Path, items: list[dict[str, Any]]) -> str:
    """The batch of these items: the one this folder follows, else a new one of the items not yet in it."""
    state_path, key = out / STATE, digest(items)
    if state_path.exists():
        state = json.loads(state_path.read_text())
        if state.get("input_sha256") == key:
            try:
                api.get(f"/batches/{state['batch_id']}")
                return str(state["batch_id"])
            except CliError:
                pass  # purged or deleted on the server: submit what is missing
    remaining = [item for item in items if not (out / file_of(item)).exists()]
    if not remaining:
        raise CliError(f"every item is already in {out}")
    created = api.post("/batches", json={"items": remaining}, headers={"Idempotency-Key": digest(remaining)})
    state_path.write_text(json.dumps({"batch_id": created["batch_id"], "input_sha256": key}))
    return str(created["batch_id"])


def _download(api: Api, out: Path, item: dict[str, Any], stop: list[bool]) -> None:
    result = api.get(f"/jobs/{item['job_id']}/result")
    if result.get("success") and result.get("result"):
        write_atomically(out / item["file"], base64.b64decode(result["result"]["audio_base64"]))
    if stop:
        raise Interrupted


def _sweep(api: Api, batch_id: str, out: Path, cursor: int, stop: list[bool]) -> int:
    """Download every finished item not yet in `out`, from just after `cursor` (all items up to it are
    finished and downloaded); the new cursor."""
    after, advancing = cursor, True
    while True:
        page = api.get(f"/batches/{batch_id}/items", params={"after": after, "limit": PAGE})
        for item in page["items"]:
            done = item["status"] in FINISHED
            if item["status"] == "completed" and not (out / item["file"]).exists():
                _download(api, out, item, stop)
            advancing = advancing and done
            cursor = item["index"] if advancing else cursor
        if page["next_after"] is None or not any(i["status"] in FINISHED for i in page["items"]):
            return cursor
        after = page["next_after"]


def _manifest(api: Api, batch_id: str, out: Path) -> tuple[int, int]:
    lines, after, failed = [], -1, 0
    while True:
        page = api.get(f"/batches/{batch_id}/items", params={"after": after, "limit": PAGE})
        for item in page["items"]:
            failed += item["status"] != "completed"
            lines.append(json.dumps({k: item[k] for k in ("index", "custom_id", "file", "status", "duration_seconds",
                                                            "error", "error_type")}, ensure_ascii=False))  # fmt: skip
        if page["next_after"] is None:
            break
        after = page["next_after"]
    write_atomically(out / "manifest.jsonl", ("\n".join(lines) + "\n").encode())
    return len(lines), failed


def run(api: Api, *, lines: Path, out: Path, voice: str | None, fmt: str, language: str | None, poll: float) -> int:
    out.mkdir(parents=True, exist_ok=True)
    items = read_items(api, lines, voice=voice, fmt=fmt, language=language)
    batch_id = _batch_of(api, out, items)
    stop: list[bool] = []
    previous = signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    progress, cursor = Progress(), -1
    try:
        while True:
            batch = api.get(f"/batches/{batch_id}")
            cursor = _sweep(api, batch_id, out, cursor, stop)
            progress.show(batch)
            if batch["status"] in ("completed", "cancelled") and cursor == batch["total"] - 1:
                break
            deadline = time.monotonic() + poll
            while time.monotonic() < deadline and not stop:
                time.sleep(0.05)
            if stop:
                raise Interrupted
    except Interrupted:
        progress.end(f"interrupted: run the same command again to resume batch {batch_id}")
        return 130
    finally:
        signal.signal(signal.SIGINT, previous)
    total, failed = _manifest(api, batch_id, out)
    progress.end(f"{total - failed} of {total} items in {out} ({failed} failed; see manifest.jsonl)")
    return 0 if failed == 0 else 1
