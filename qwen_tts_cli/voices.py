"""`qwen-tts voices list|create|delete`, and resolving a voice NAME for `say` and `batch`: a preset
speaker (CustomVoice), else a cloned voice by id or by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qwen_tts_cli.client import Api, CliError


def resolve(api: Api, name: str) -> tuple[str, dict[str, Any]]:
    """(job type, request fields) that speak with the voice `name`."""
    speakers = {s.lower(): s for s in api.get("/speakers")["speakers"]}
    if name.lower() in speakers:
        return "custom_voice", {"speaker": speakers[name.lower()]}
    voices = api.get("/cloned-voices", params={"limit": 500})["voices"]
    for voice in voices:
        if name in (voice["id"], voice["name"]):
            return "cloned_voice_generate", {"voice_id": voice["id"]}
    raise CliError(f"no preset speaker or cloned voice named {name!r} (see `qwen-tts voices list`)")


def list_voices(api: Api) -> int:
    voices = api.get("/cloned-voices", params={"limit": 500})["voices"]
    for voice in voices:
        print(f"{voice['id']}\t{voice['name']}\t{voice['language']}\tused {voice['use_count']}x")
    if not voices:
        print("no cloned voices; preset speakers: " + ", ".join(api.get("/speakers")["speakers"]))
    return 0


def create_voice(api: Api, *, name: str, audio: Path, ref_text: str, language: str, description: str | None) -> int:
    if not audio.is_file():
        raise CliError(f"{audio}: no such file")
    data = {"name": name, "ref_text": ref_text, "language": language}
    if description:
        data["description"] = description
    with audio.open("rb") as handle:
        saved = api.post("/cloned-voices/upload", data=data, files={"ref_audio": (audio.name, handle)})
    print(saved["voice"]["id"])
    return 0


def delete_voice(api: Api, voice_id: str) -> int:
    api.request("DELETE", f"/cloned-voices/{voice_id}")
    print(f"deleted {voice_id}")
    return 0
