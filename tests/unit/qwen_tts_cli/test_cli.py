"""The command-line client without a server: lines read into batch items, voices resolved, the
progress line, output formats, and the server's error bodies shown to the user."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from qwen_tts_cli import batch, client, progress, say, voices


class StubApi:
    def get(self, path: str, **_: Any) -> Any:
        if path == "/speakers":
            return {"speakers": ["Vivian", "Ryan"]}
        if path == "/cloned-voices":
            return {"voices": [{"id": "mi_voz_1234abcd", "name": "mi voz"}]}
        raise AssertionError(path)


def test_lines_become_batch_items(tmp_path: Path) -> None:
    lines = tmp_path / "lines.jsonl"
    rows = [
        json.dumps({"text": "Hola", "custom_id": "saludo"}),
        "",
        "Texto plano.",
        json.dumps({"text": "Clonada", "voice": "mi voz", "seed": 3}),
        json.dumps({"job_type": "voice_design", "request_data": {"text": "x", "voice_description": "grave"}}),
    ]
    lines.write_text("\n".join(rows), encoding="utf-8")
    items = batch.read_items(StubApi(), lines, voice="vivian", fmt="mp3", language="Spanish")  # type: ignore[arg-type]
    assert [item["custom_id"] for item in items] == ["saludo", "line-00003", "line-00004", "line-00005"]
    assert items[0]["request_data"] == {
        "speaker": "Vivian",
        "output_format": "mp3",
        "language": "Spanish",
        "text": "Hola",
    }
    assert items[1]["request_data"]["text"] == "Texto plano."
    assert items[2]["job_type"] == "cloned_voice_generate" and items[2]["request_data"]["voice_id"] == "mi_voz_1234abcd"
    assert items[3]["job_type"] == "voice_design"
    assert batch.file_of(items[0]) == "saludo.mp3"
    assert batch.digest(items) == batch.digest(json.loads(json.dumps(items))), "stable across runs"


def test_a_line_without_a_voice_is_refused(tmp_path: Path) -> None:
    lines = tmp_path / "lines.jsonl"
    lines.write_text("hola\n", encoding="utf-8")
    with pytest.raises(client.CliError, match=r"lines\.jsonl:1: no voice"):
        batch.read_items(StubApi(), lines, voice=None, fmt="wav", language=None)  # type: ignore[arg-type]
    with pytest.raises(client.CliError, match="no preset speaker or cloned voice named 'nadie'"):
        voices.resolve(StubApi(), "nadie")  # type: ignore[arg-type]


def test_output_format_follows_the_extension() -> None:
    assert say.output_format(Path("a.MP3")) == "mp3"
    with pytest.raises(client.CliError, match="must end in one of"):
        say.output_format(Path("a.flac"))


def test_progress_line() -> None:
    bar = progress.Progress()
    state = {"total": 10, "audio_seconds": 12.5, "counts": {"completed": 4, "failed": 1, "cancelled": 0}}
    line = bar.line(state)
    assert "5/10 items, 1 failed, 12.5 s of audio" in line and "ETA" in line and line.startswith("[###############")


def test_server_errors_are_shown_with_every_bad_line() -> None:
    body = {"error": "2 of 3 items are invalid", "errors": [{"line": 1, "error": "a"}, {"line": 3, "error": "b"}]}
    transport = httpx.MockTransport(lambda request: httpx.Response(422, json=body))
    api = client.Api("http://test")
    api.http = httpx.Client(base_url="http://test/api/v1", transport=transport)
    with pytest.raises(client.CliError) as caught:
        api.post("/batches", json=[])
    assert str(caught.value) == "POST /batches: HTTP 422: 2 of 3 items are invalid\n  line 1: a\n  line 3: b"
