"""Where the code once differed from the contract (../shared/api-spec.md): /languages, the clone
endpoints' default language."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from api.schemas.jobs import VoiceCloneFileRequest
from api.schemas.tts import VoiceCloneURLRequest

V1 = "/api/v1"


def test_languages_as_the_contract_lists_them(app_client: TestClient):
    body = app_client.get(f"{V1}/languages").json()
    assert body["languages"][:4] == ["Auto", "Spanish", "English", "Chinese"]
    assert body["notes"] == "Use 'Auto' para detección automática del idioma"


def _schema(client: TestClient, ref: str) -> dict[str, Any]:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    return dict(schemas[ref.rsplit("/", 1)[-1]])


def test_both_clone_endpoints_default_to_the_contracts_spanish(app_client: TestClient):
    paths = app_client.get("/openapi.json").json()["paths"]
    upload = paths[f"{V1}/tts/clone/upload"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    url = paths[f"{V1}/tts/clone/url"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert _schema(app_client, upload["$ref"])["properties"]["language"]["default"] == "Spanish"
    assert _schema(app_client, url["$ref"])["properties"]["language"]["default"] == "Spanish"
    fields = {"text": "hola", "ref_text": "hola"}
    assert VoiceCloneURLRequest(**fields, ref_audio_url="https://example.com/a.wav").language == "Spanish"
    assert VoiceCloneFileRequest(**fields, ref_audio_base64="UklGRg==").language == "Spanish"
