"""The optional `seed` of every synthesis request: validated (a JSON integer in 0..2^63-1, 422 naming
`seed` otherwise), documented, and carried into the SynthesisCall sent to Triton (as SEED)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, ValidationError

from api.schemas.jobs import VoiceCloneFileRequest
from api.schemas.tts import SEED_MAX, CustomVoiceRequest, VoiceCloneURLRequest, VoiceDesignRequest
from api.schemas.voices import ClonedVoiceTTSRequest
from tests.unit.api.fakes import FakeTriton, wav_bytes
from tests.unit.api.routes.test_jobs_routes import make_client, stream_events

V1 = "/api/v1"
CUSTOM = {"text": "Hola", "speaker": "Ryan", "max_new_tokens": 8}
DESIGN = {"text": "Hola", "voice_description": "una voz grave"}
MODELS: list[tuple[type[BaseModel], dict[str, Any]]] = [
    (CustomVoiceRequest, CUSTOM),
    (VoiceDesignRequest, DESIGN),
    (VoiceCloneURLRequest, {"text": "Hola", "ref_text": "hola", "ref_audio_url": "https://example.com/a.wav"}),
    (VoiceCloneFileRequest, {"text": "Hola", "ref_text": "hola", "ref_audio_base64": "AAAA"}),
    (ClonedVoiceTTSRequest, {"text": "Hola", "voice_id": "v_1234abcd"}),
]
BAD_SEEDS = [-1, SEED_MAX + 1, 2**64, 1.5, 1.0, "12", True, [1], {"a": 1}]


@pytest.fixture
def client(tmp_path: Path, fake_triton: FakeTriton) -> Iterator[TestClient]:
    yield from make_client(tmp_path, fake_triton)


@pytest.mark.parametrize(("model", "base"), MODELS)
@pytest.mark.parametrize("seed", [None, 0, 1234, SEED_MAX])
def test_every_request_model_takes_a_seed_in_range(model: type[BaseModel], base: dict, seed: int | None):
    assert model.model_validate({**base, "seed": seed}).seed == seed  # type: ignore[attr-defined]
    assert model.model_validate(base).seed is None  # type: ignore[attr-defined]


@pytest.mark.parametrize(("model", "base"), MODELS)
@pytest.mark.parametrize("seed", BAD_SEEDS)
def test_a_seed_out_of_range_or_not_an_integer_is_refused(model: type[BaseModel], base: dict, seed: Any):
    with pytest.raises(ValidationError) as info:
        model.model_validate({**base, "seed": seed})
    assert info.value.errors()[0]["loc"][0] == "seed"


def test_openapi_documents_the_seed(client: TestClient):
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("CustomVoiceRequest", "VoiceDesignRequest", "VoiceCloneURLRequest", "ClonedVoiceTTSRequest"):
        seed = schemas[name]["properties"]["seed"]
        assert "same audio" in seed["description"] and "grouped" in seed["description"]
        assert {"type": "integer", "minimum": 0, "maximum": SEED_MAX} in seed["anyOf"]
    assert "seed" not in schemas["VoiceCreate"]["properties"]  # a seed is per request, not a voice default


@pytest.mark.parametrize(("path", "body"), [("/tts/custom", CUSTOM), ("/tts/design", DESIGN)])
@pytest.mark.parametrize("seed", [None, 0, SEED_MAX])
def test_the_seed_reaches_the_synthesis_call(
    client: TestClient, fake_triton: FakeTriton, path: str, body: dict, seed: int | None
):
    response = client.post(f"{V1}{path}", json=body if seed is None else {**body, "seed": seed})
    assert response.status_code == 200, response.text
    assert fake_triton.synth_calls[-1][1].seed == seed


@pytest.mark.parametrize("seed", [-1, SEED_MAX + 1, 1.5, "12", True])
def test_a_bad_seed_is_a_422_naming_it(client: TestClient, fake_triton: FakeTriton, seed: Any):
    for path, body in [
        ("/tts/custom", CUSTOM),
        ("/tts/design", DESIGN),
        ("/tts/clone/url", {"text": "Hola", "ref_text": "hola", "ref_audio_url": "https://example.com/a.wav"}),
    ]:
        response = client.post(f"{V1}{path}", json={**body, "seed": seed})
        assert response.status_code == 422, (path, response.text)
        assert response.json()["field"] == "seed" and response.json()["error_type"] == "validation"
    job = client.post(f"{V1}/jobs", json={"job_type": "custom_voice", "request_data": {**CUSTOM, "seed": seed}})
    assert job.status_code == 422 and job.json()["field"] == "request_data.seed"
    assert fake_triton.synth_calls == []


def _upload(client: TestClient, seed: str | None) -> Any:
    form = {"text": "Hola", "ref_text": "hola", "max_new_tokens": "8"} | ({} if seed is None else {"seed": seed})
    files = {"ref_audio": ("ref.wav", wav_bytes(), "audio/wav")}
    return client.post(f"{V1}/tts/clone/upload", data=form, files=files)


def test_the_upload_form_takes_a_seed(client: TestClient, fake_triton: FakeTriton):
    assert _upload(client, str(SEED_MAX)).status_code == 200
    assert fake_triton.synth_calls[-1][1].seed == SEED_MAX
    assert _upload(client, None).status_code == 200
    assert fake_triton.synth_calls[-1][1].seed is None
    for bad in ("-1", str(SEED_MAX + 1), "1.5", "abc"):
        response = _upload(client, bad)
        assert response.status_code == 422 and response.json()["field"] == "seed", (bad, response.text)


def test_a_cloned_voice_generation_sends_the_request_seed(client: TestClient, fake_triton: FakeTriton):
    voice = {
        "name": "Semilla",
        "ref_audio_base64": base64.b64encode(wav_bytes()).decode(),
        "ref_text": "hola",
        "top_k": 7,
    }
    assert client.post(f"{V1}/cloned-voices", json={**voice, "seed": 3}).status_code == 422  # not a voice default
    voice_id = client.post(f"{V1}/cloned-voices", json=voice).json()["voice"]["id"]
    body = {"text": "Hola", "voice_id": voice_id, "seed": 99}
    assert client.post(f"{V1}/tts/cloned-voice/generate", json=body).status_code == 200
    call = fake_triton.synth_calls[-1][1]
    assert (call.seed, call.top_k) == (99, 7)
    bad = client.post(f"{V1}/tts/cloned-voice/generate", json={**body, "seed": -5})
    assert bad.status_code == 422 and bad.json()["field"] == "seed"


@pytest.mark.parametrize(
    ("job_type", "data"),
    [
        ("custom_voice", CUSTOM),
        ("voice_clone_file", {"text": "Hola", "ref_text": "hola", "ref_audio_base64": ""}),
    ],
)
def test_a_job_sends_its_seed(client: TestClient, fake_triton: FakeTriton, job_type: str, data: dict):
    if job_type == "voice_clone_file":
        data = {**data, "ref_audio_base64": base64.b64encode(wav_bytes()).decode()}
    created = client.post(f"{V1}/jobs", json={"job_type": job_type, "request_data": {**data, "seed": 4321}})
    assert created.status_code in (200, 201, 202), created.text
    assert stream_events(client, created.json()["job_id"])[-1][0] == "completed"
    assert fake_triton.synth_calls[-1][1].seed == 4321
