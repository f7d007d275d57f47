"""The cloned-voice routes in-process: a temporary SQLite store and a fake Triton gateway."""

from __future__ import annotations

import base64

import pytest
from fastapi.testclient import TestClient

from tests.unit.api.fakes import FakeTriton, wav_bytes

V1 = "/api/v1"


def create(client: TestClient, name: str = "Mi Voz Personal", **extra) -> dict:
    body = {
        "name": name,
        "description": "Voz clonada de mi audio",
        "ref_audio_base64": base64.b64encode(wav_bytes()).decode(),
        "ref_text": "Hola, esta es mi voz",
        "language": "Spanish",
        "temperature": 0.9,
        "top_p": 0.0,
        **extra,
    }
    response = client.post(f"{V1}/cloned-voices", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_create_computes_the_prompt_once_and_shows_the_contract_shape(app_client, fake_triton: FakeTriton):
    data = create(app_client)
    voice = data["voice"]
    assert data["success"] is True and voice["id"] in data["message"]
    assert voice["id"].startswith("mi_voz_personal_") and len(voice["id"]) == len("mi_voz_personal_") + 8
    assert voice["use_count"] == 0 and voice["last_used"] == voice["created_at"]
    assert voice["generation_params"] == {
        "temperature": 0.9, "top_p": 0.0, "top_k": None, "repetition_penalty": None, "max_new_tokens": None
    }  # fmt: skip
    [call] = fake_triton.prompt_calls
    assert call["model"] == "voice_clone_1_7b" and call["ref_text"] == "Hola, esta es mi voz"
    assert call["ref_sample_rate"] == 16000 and call["x_vector_only"] is False


def test_generate_sends_the_stored_prompt_not_audio_and_counts(app_client, fake_triton: FakeTriton):
    voice_id = create(app_client, top_k=7)["voice"]["id"]
    body = {"text": "Hola", "voice_id": voice_id, "output_format": "wav", "temperature": 0.3}
    response = app_client.post(f"{V1}/tts/cloned-voice/generate", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["model_used"] == "1.7B_voice_clone"
    model, call = fake_triton.synth_calls[-1]
    assert model == "voice_clone_1_7b" and call.ref_audio is None and call.prompt_only is None
    assert call.ref_code is not None and call.ref_code.shape == (5, 4) and call.ref_spk_embedding is not None
    assert call.language == "Spanish" and call.ref_text == "Hola, esta es mi voz"
    assert (call.temperature, call.top_p, call.top_k) == (0.3, 0.0, 7)  # request overrides, voice defaults stay
    assert len(fake_triton.prompt_calls) == 1
    no_defaults = app_client.post(f"{V1}/tts/cloned-voice/generate", json={**body, "use_voice_defaults": False})
    assert no_defaults.status_code == 200
    assert (fake_triton.synth_calls[-1][1].top_k, fake_triton.synth_calls[-1][1].temperature) == (None, 0.3)
    voice = app_client.get(f"{V1}/cloned-voices/{voice_id}").json()["voice"]
    assert voice["use_count"] == 2


def test_another_size_builds_its_prompt_once_from_the_stored_audio(app_client, fake_triton: FakeTriton):
    voice_id = create(app_client)["voice"]["id"]
    body = {"text": "Hola", "voice_id": voice_id, "model_size": "0.6B"}
    for _ in range(2):
        assert app_client.post(f"{V1}/tts/cloned-voice/generate", json=body).status_code == 200
    assert [c["model"] for c in fake_triton.prompt_calls] == ["voice_clone_1_7b", "voice_clone_0_6b"]
    fake_triton.weights["voice_clone_0_6b"] = "/w/new-weights"  # new weights: a new prompt
    from api.services import status

    status._info_cache.update(at=0.0, value=None)
    assert app_client.post(f"{V1}/tts/cloned-voice/generate", json=body).status_code == 200
    assert len(fake_triton.prompt_calls) == 3


def test_x_vector_only_voice_sends_no_codes_and_no_transcript(app_client, fake_triton: FakeTriton):
    voice_id = create(app_client, x_vector_only=True)["voice"]["id"]
    response = app_client.post(f"{V1}/tts/cloned-voice/generate", json={"text": "Hola", "voice_id": voice_id})
    assert response.status_code == 200, response.text
    call = fake_triton.synth_calls[-1][1]
    assert call.ref_code is None and call.ref_text is None and call.ref_spk_embedding is not None


def test_list_pagination_language_filter_update_stats_delete(app_client):
    languages = ["English", "english", "Spanish", "Spanish", "Spanish"]
    ids = [create(app_client, name=f"Voz {i}", language=lang)["voice"]["id"] for i, lang in enumerate(languages)]
    ids = [create(app_client, name="Voz 0")["voice"]["id"], *ids]  # names may repeat; ids do not
    assert len(set(ids)) == 6
    page = app_client.get(f"{V1}/cloned-voices", params={"limit": 4, "offset": 0}).json()
    rest = app_client.get(f"{V1}/cloned-voices", params={"limit": 4, "offset": 4}).json()
    assert page["total"] == rest["total"] == 6 and len(page["voices"]) == 4 and len(rest["voices"]) == 2
    # a client that does not page is told the list stopped at its limit
    assert (page["has_more"], page["next_offset"], page["limit"]) == (True, 4, 4)
    assert (rest["has_more"], rest["next_offset"], rest["offset"]) == (False, None, 4)
    assert {v["id"] for v in page["voices"] + rest["voices"]} == set(ids)
    english = app_client.get(f"{V1}/cloned-voices", params={"language": "ENGLISH"}).json()
    assert english["total"] == 2 and {v["language"] for v in english["voices"]} == {"English"}
    assert app_client.get(f"{V1}/cloned-voices", params={"language": "Klingon"}).status_code == 422
    updated = app_client.put(
        f"{V1}/cloned-voices/{ids[0]}",
        json={"name": "Nuevo Nombre", "language": "English", "generation_params": {"temperature": 0.8}},
    )
    assert updated.status_code == 200, updated.text
    voice = updated.json()["voice"]
    assert voice["name"] == "Nuevo Nombre" and voice["id"] == ids[0] and voice["language"] == "English"
    assert voice["generation_params"]["temperature"] == 0.8 and voice["generation_params"]["top_p"] == 0.0
    stats = app_client.get(f"{V1}/cloned-voices/stats").json()
    assert stats == {
        "total_voices": 6, "total_generations": 0, "most_used": None, "voices_by_language": {"English": 3, "Spanish": 3}
    }  # fmt: skip
    deleted = app_client.delete(f"{V1}/cloned-voices/{ids[0]}")
    assert deleted.json() == {"success": True, "message": f"Voz '{ids[0]}' eliminada exitosamente"}
    assert app_client.get(f"{V1}/cloned-voices/{ids[0]}").status_code == 404
    assert app_client.delete(f"{V1}/cloned-voices/{ids[0]}").status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "!!! ???"}, "name"),
        ({"ref_text": ""}, "ref_text"),
        ({"ref_text": "  "}, "ref_text"),
        ({"language": "Klingon"}, "language"),
        ({"temperature": 7}, "temperature"),
        ({"ref_audio_base64": "not base64 at all!"}, "ref_audio_base64"),
        ({"ref_audio_url": "file:///etc/passwd", "ref_audio_base64": None}, "ref_audio_url"),
        ({"ref_audio_url": "http://127.0.0.1:9/x.wav"}, "ref_audio_url"),  # both sources given
    ],
)
def test_bad_creation_is_a_422_naming_the_field(app_client, change, field):
    body = {"name": "Voz", "ref_text": "Hola", "ref_audio_base64": base64.b64encode(wav_bytes()).decode(), **change}
    response = app_client.post(f"{V1}/cloned-voices", json={k: v for k, v in body.items() if v is not None})
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]


def test_audio_that_is_not_audio_is_a_400_naming_the_field(app_client):
    body = {"name": "Voz", "ref_text": "Hola", "ref_audio_base64": base64.b64encode(b"not audio" * 50).decode()}
    response = app_client.post(f"{V1}/cloned-voices", json=body)
    assert response.status_code == 400 and response.json()["error"].startswith("ref_audio_base64: ")
    upload = app_client.post(
        f"{V1}/cloned-voices/upload",
        data={"name": "Voz", "ref_text": "Hola"},
        files={"ref_audio": ("v.wav", b"not audio" * 50, "audio/wav")},
    )
    assert upload.status_code == 400 and upload.json()["field"] == "ref_audio"


def test_upload_validates_like_json(app_client):
    files = {"ref_audio": ("v.wav", wav_bytes(), "audio/wav")}
    ok = app_client.post(f"{V1}/cloned-voices/upload", data={"name": "Subida", "ref_text": "Hola"}, files=files)
    assert ok.status_code == 200 and ok.json()["voice"]["id"].startswith("subida_")
    bad = app_client.post(f"{V1}/cloned-voices/upload", data={"name": "Subida", "ref_text": " "}, files=files)
    assert bad.status_code == 422 and bad.json()["field"] == "ref_text"


def test_unknown_voice_is_404_everywhere(app_client):
    assert app_client.get(f"{V1}/cloned-voices/nope_1234").status_code == 404
    assert app_client.put(f"{V1}/cloned-voices/nope_1234", json={"name": "X"}).status_code == 404
    generate = app_client.post(f"{V1}/tts/cloned-voice/generate", json={"text": "Hola", "voice_id": "nope_1234"})
    assert generate.status_code == 404 and "nope_1234" in generate.json()["error"]


def test_the_reference_audio_comes_back_as_given(app_client: TestClient):
    voice_id = create(app_client)["voice"]["id"]
    response = app_client.get(f"{V1}/cloned-voices/{voice_id}/audio")
    assert response.status_code == 200 and response.content == wav_bytes()
    assert response.headers["content-type"] == "audio/wav"
    app_client.delete(f"{V1}/cloned-voices/{voice_id}")
    assert app_client.get(f"{V1}/cloned-voices/{voice_id}/audio").status_code == 404
