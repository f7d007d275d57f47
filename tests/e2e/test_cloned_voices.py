"""Persistent cloned voices through the real API, the real Triton server (tiny checkpoints) and a
real database: every test runs on SQLite and on PostgreSQL (the `store_api` fixture)."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from sqlalchemy import create_engine, text

from api.audio.decode import decode_audio
from devtools.servers import StoreApi, audio_host, run_api

pytestmark = pytest.mark.e2e
FAST = {"max_new_tokens": 12}
GENERATE = "/tts/cloned-voice/generate"


def reference_wav(seconds: float = 2.0, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    signal = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    buffer = io.BytesIO()
    sf.write(buffer, signal.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@pytest.fixture
def client(store_api: StoreApi) -> Iterator[httpx.Client]:
    """A client of the store-backed API, starting from an empty voice store."""
    with httpx.Client(base_url=store_api.base, timeout=300) as http:
        for voice in http.get("/cloned-voices", params={"limit": 500}).json()["voices"]:
            http.delete(f"/cloned-voices/{voice['id']}")
        yield http


def create_json(client: httpx.Client, **body: object) -> dict:
    body = {"name": "Mi Voz Personal", "ref_text": "Hola, esta es mi voz", "language": "Spanish", **body}
    response = client.post("/cloned-voices", json=body)
    assert response.status_code == 200, response.text
    return response.json()["voice"]


def b64_voice(client: httpx.Client, **body: object) -> dict:
    return create_json(client, ref_audio_base64=base64.b64encode(reference_wav()).decode(), **body)


def check_audio(body: dict, fmt: str) -> None:
    assert body["success"] is True and body["output_format"] == fmt
    audio = decode_audio(base64.b64decode(body["audio_base64"]))
    assert body["sample_rate"] == 24000 and body["duration_seconds"] > 0
    assert abs(audio.duration_seconds - body["duration_seconds"]) < 0.08, fmt


def test_lifecycle(client: httpx.Client):
    with audio_host({"/voice.wav": reference_wav()}) as host:
        by_url = create_json(client, ref_audio_url=f"{host}/voice.wav", description="De mi audio", temperature=0.9)
    upload = client.post(
        "/cloned-voices/upload",
        data={"name": "English Voice", "ref_text": "Hello, this is my voice", "language": "English", "top_k": "30"},
        files={"ref_audio": ("voice.wav", reference_wav(), "audio/wav")},
    )
    assert upload.status_code == 200, upload.text
    by_upload = upload.json()["voice"]
    by_b64 = b64_voice(client, top_p=0.0)  # same name as by_url: a second voice, not a conflict
    assert by_url["id"] != by_b64["id"] and by_url["name"] == by_b64["name"]
    assert by_url["id"].startswith("mi_voz_personal_") and by_upload["id"].startswith("english_voice_")
    assert by_upload["generation_params"]["top_k"] == 30 and by_url["use_count"] == 0

    first = client.get("/cloned-voices", params={"limit": 2}).json()
    second = client.get("/cloned-voices", params={"limit": 2, "offset": 2}).json()
    assert first["total"] == second["total"] == 3 and len(first["voices"]) == 2 and len(second["voices"]) == 1
    assert (first["has_more"], first["next_offset"], second["has_more"]) == (True, 2, False)
    assert {v["id"] for v in first["voices"] + second["voices"]} == {by_url["id"], by_upload["id"], by_b64["id"]}
    english = client.get("/cloned-voices", params={"language": "English"}).json()
    assert english["total"] == 1 and english["voices"][0]["id"] == by_upload["id"]

    voice = client.get(f"/cloned-voices/{by_url['id']}").json()["voice"]
    assert voice == by_url
    updated = client.put(
        f"/cloned-voices/{by_url['id']}",
        json={"name": "Nuevo Nombre", "description": "Nueva", "generation_params": {"temperature": 0.8}},
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["voice"]["name"] == "Nuevo Nombre"
    assert updated.json()["voice"]["generation_params"]["temperature"] == 0.8

    for fmt in ["wav", "mp3", "ogg", "opus"]:
        response = client.post(
            GENERATE,
            json={"text": "Mensaje con mi voz clonada", "voice_id": by_url["id"], "output_format": fmt, **FAST},
        )
        assert response.status_code == 200, response.text
        assert response.json()["model_used"] == "1.7B_voice_clone"
        check_audio(response.json(), fmt)
    # A size without a stored prompt yet: built once from the stored reference audio, then stored.
    small = client.post(GENERATE, json={"text": "Hola", "voice_id": by_b64["id"], "model_size": "0.6B", **FAST})
    assert small.status_code == 200 and small.json()["model_used"] == "0.6B_voice_clone", small.text

    stats = client.get("/cloned-voices/stats").json()
    assert stats == {
        "total_voices": 3,
        "total_generations": 5,
        "most_used": {"voice_id": by_url["id"], "name": "Nuevo Nombre", "use_count": 4},
        "voices_by_language": {"English": 1, "Spanish": 2},
    }
    used = client.get(f"/cloned-voices/{by_url['id']}").json()["voice"]
    assert used["use_count"] == 4 and used["last_used"] >= used["created_at"]

    deleted = client.delete(f"/cloned-voices/{by_upload['id']}")
    assert deleted.json() == {"success": True, "message": f"Voz '{by_upload['id']}' eliminada exitosamente"}
    assert client.get(f"/cloned-voices/{by_upload['id']}").status_code == 404
    assert client.post(GENERATE, json={"text": "Hola", "voice_id": by_upload["id"]}).status_code == 404


def test_generation_uses_the_stored_prompt_after_a_restart(
    client: httpx.Client, store_api: StoreApi, triton, log_dir: Path
):
    files = {"/voice.wav": reference_wav()}
    with audio_host(files) as host:
        voice = create_json(client, ref_audio_url=f"{host}/voice.wav")
        files.clear()  # the reference URL now answers 404
    # Nothing left to rebuild a prompt from: not the URL, not the stored bytes.
    engine = create_engine(store_api.database_url)
    with engine.begin() as connection:
        removed = connection.execute(text("DELETE FROM voice_audio WHERE voice_id = :id"), {"id": voice["id"]})
        assert removed.rowcount == 1
    engine.dispose()
    name = f"api-restarted-{store_api.kind}"
    with run_api(triton.grpc_url, log_dir, name=name, database_url=store_api.database_url) as restarted:
        base = f"{restarted.url}/api/v1"
        response = httpx.post(
            f"{base}{GENERATE}", json={"text": "Sigo aquí", "voice_id": voice["id"], **FAST}, timeout=300
        )
        assert response.status_code == 200, response.text
        check_audio(response.json(), "wav")
        other_size = httpx.post(
            f"{base}{GENERATE}", json={"text": "Hola", "voice_id": voice["id"], "model_size": "0.6B"}, timeout=300
        )
    assert other_size.status_code == 409 and "reference audio" in other_size.json()["error"]
    assert client.get(f"/cloned-voices/{voice['id']}").json()["voice"]["use_count"] == 1


def test_fifty_concurrent_generations_count_fifty(client: httpx.Client):
    voice = b64_voice(client, max_new_tokens=4)  # the voice's own default keeps each generation short
    body = {"text": "Uno", "voice_id": voice["id"]}
    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(lambda _: client.post(GENERATE, json=body), range(50)))
    assert [r.status_code for r in responses] == [200] * 50, [r.text for r in responses if r.status_code != 200]
    assert client.get(f"/cloned-voices/{voice['id']}").json()["voice"]["use_count"] == 50
    assert client.get("/cloned-voices/stats").json()["total_generations"] == 50


BASE = {"name": "Voz", "ref_text": "Hola"}


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({**BASE, "ref_text": ""}, 422, "ref_text"),
        ({**BASE, "ref_text": "   "}, 422, "ref_text"),
        ({**BASE, "language": "Klingon"}, 422, "language"),
        ({**BASE, "name": ""}, 422, "name"),
        ({**BASE, "name": "  "}, 422, "name"),
        ({**BASE, "name": "x" * 101}, 422, "name"),
        ({**BASE, "name": "¿¡!?"}, 422, "name"),
        ({**BASE, "top_p": 3}, 422, "top_p"),
        ({**BASE, "ref_audio_base64": "@@ not base64 @@"}, 422, "ref_audio_base64"),
        ({**BASE, "ref_audio_base64": base64.b64encode(b"not audio" * 100).decode()}, 400, "ref_audio_base64"),
        ({**BASE, "ref_audio_url": "ftp://example.com/a.wav"}, 422, "ref_audio_url"),
        ({**BASE, "ref_audio_url": "/garbage.wav"}, 400, "ref_audio_url"),
    ],
)
def test_bad_creation_is_a_clear_4xx(client: httpx.Client, body: dict, status: int, field: str):
    if "ref_audio_url" not in body and "ref_audio_base64" not in body:
        body = {**body, "ref_audio_base64": base64.b64encode(reference_wav(0.5)).decode()}
    with audio_host({"/garbage.wav": b"this is not audio at all" * 100}) as host:
        if str(body.get("ref_audio_url", "")).startswith("/"):
            body = {**body, "ref_audio_url": f"{host}{body['ref_audio_url']}"}
        response = client.post("/cloned-voices", json=body)
    assert response.status_code == status, response.text
    assert response.json()["success"] is False and field in response.json()["error"]
    assert client.get("/cloned-voices").json()["total"] == 0


def test_bad_use_is_a_clear_4xx(client: httpx.Client):
    upload = client.post(
        "/cloned-voices/upload", data=BASE, files={"ref_audio": ("v.wav", b"not audio" * 100, "audio/wav")}
    )
    assert upload.status_code == 400 and upload.json()["field"] == "ref_audio"
    for response in (
        client.get("/cloned-voices/nobody_00000000"),
        client.put("/cloned-voices/nobody_00000000", json={"name": "X"}),
        client.delete("/cloned-voices/nobody_00000000"),
        client.post(GENERATE, json={"text": "Hola", "voice_id": "nobody_00000000"}),
    ):
        assert response.status_code == 404 and "nobody_00000000" in response.json()["error"]
    voice = b64_voice(client)
    for body, field in [
        ({"text": "", "voice_id": voice["id"]}, "text"),
        ({"text": "Hola", "voice_id": voice["id"], "language": "Klingon"}, "language"),
        ({"text": "Hola", "voice_id": voice["id"], "output_format": "flac"}, "output_format"),
        ({"text": "Hola", "voice_id": voice["id"], "model_size": "7B"}, "model_size"),
    ]:
        response = client.post(GENERATE, json=body)
        assert response.status_code == 422 and field in response.json()["error"], response.text
    assert client.put(f"/cloned-voices/{voice['id']}", json={"name": "!!!"}).status_code == 422
    assert client.get("/cloned-voices", params={"language": "Klingon"}).status_code == 422
