"""The text a model reads: empty, whitespace-only and invisible-only text is a 422, control
characters are refused naming their code point and index, text is NFC-normalised, and an over-long
text is a 422 naming the limit, on every endpoint that takes one (synchronous and jobs alike)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.errors import ValidationFailed
from api.schemas.tts import CustomVoiceRequest, VoiceCloneURLRequest, VoiceDesignRequest
from api.schemas.voices import ClonedVoiceTTSRequest
from api.services.synthesis import check_text
from api.settings import Settings

V1 = "/api/v1"


def custom(text: str, **extra: object) -> CustomVoiceRequest:
    return CustomVoiceRequest.model_validate({"text": text, "speaker": "Ryan", **extra})


def refused(build, *args: object, **extra: object) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as caught:
        build(*args, **extra)
    return str(caught.value.errors()[0]["msg"])


@pytest.mark.parametrize(
    "text", ["", " ", "\t\n\r ", "\u200b", "\u200b\u200c\u200d", "\ufeff", " \u00ad \u2060 ", "\u3000\u2028"]
)
def test_empty_whitespace_or_invisible_text_is_refused(text: str):
    assert "must not be empty" in refused(custom, text) or "at least 1 character" in refused(custom, text)


@pytest.mark.parametrize(
    ("text", "code", "index"),
    [("a\x00b", "U+0000", 1), ("\x07Hola", "U+0007", 0), ("Hola\x1b[31m", "U+001B", 4), ("ok\x7f", "U+007F", 2),
     ("C1 \x9b", "U+009B", 3), ("\x00", "U+0000", 0)],
)  # fmt: skip
def test_control_characters_are_refused_naming_code_point_and_index(text: str, code: str, index: int):
    message = refused(custom, text)
    assert f"control character {code} at index {index}" in message, message


def test_whitespace_controls_are_kept_and_text_is_nfc():
    assert custom("línea\nnueva\tcon\rtab\x0b\x0c\x85fin").text == "línea\nnueva\tcon\rtab\x0b\x0c\x85fin"
    assert custom("Cafe\u0301").text == "Café"  # e + combining acute becomes one code point
    assert custom("👩\u200d👩\u200d👧 hola").text == "👩\u200d👩\u200d👧 hola"  # joiners inside text are kept


def test_every_text_a_model_reads_is_checked_alike():
    assert "U+0000" in refused(custom, "Hola", instruction="calm\x00")
    design = VoiceDesignRequest.model_validate
    assert "U+0000" in refused(design, {"text": "Hi", "voice_description": "d\x00"})
    assert "must not be empty" in refused(design, {"text": "Hi", "voice_description": "\u200b"})
    clone = {"text": "Hi", "ref_audio_url": "http://example.com/a.wav"}
    assert "U+0001" in refused(VoiceCloneURLRequest.model_validate, {**clone, "ref_text": "a\x01"})
    assert "must not be empty" in refused(VoiceCloneURLRequest.model_validate, {**clone, "ref_text": "\u200b "})
    assert "U+0000" in refused(ClonedVoiceTTSRequest.model_validate, {"text": "\x00", "voice_id": "v_1"})


def test_over_long_text_names_the_limit():
    settings = Settings(max_text_chars=10)
    check_text("x" * 10, settings)
    with pytest.raises(ValidationFailed, match="text: 11 characters long; the limit is 10 characters") as caught:
        check_text("x" * 11, settings)
    assert caught.value.field == "text"


@pytest.mark.parametrize(
    ("text", "needle"),
    [("Hola\x00", "U+0000 at index 4"), ("\u200b\u200b", "must not be empty"), ("x" * 200_001, "the limit is 200000")],
)
def test_the_api_answers_422_naming_text(app_client: TestClient, text: str, needle: str):
    response = app_client.post(f"{V1}/tts/custom", json={"text": text, "speaker": "Ryan"})
    assert response.status_code == 422, response.text[:300]
    body = response.json()
    assert body["field"] == "text" and body["error"].startswith("text: "), body["error"]
    assert needle.replace("200000", "20000") in body["error"], body["error"]  # the synchronous limit
    job_body = {"job_type": "custom_voice", "request_data": {"text": text, "speaker": "Ryan"}}
    job = app_client.post(f"{V1}/jobs", json=job_body)
    assert job.status_code == 422, job.text
    assert job.json()["field"] == "request_data.text" and needle in job.json()["error"], job.json()
