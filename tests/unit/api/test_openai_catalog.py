"""OpenAI's model and voice names for this deployment, and OpenAI's error shape (pure parts)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from api.catalog import SPEAKERS, Variant
from api.errors import (
    OPENAI_ERRORS,
    BackendError,
    NotFoundError,
    OverloadedError,
    UnauthorizedError,
    ValidationFailed,
    openai_error,
)
from api.openai_catalog import OPENAI_VOICES, ModelChoice, TaskType, model_choice, model_ids, preset_voice
from api.schemas.openai import SpeechRequest, VoiceRef


def test_models_by_triton_name_hub_id_and_alias():
    assert model_choice("custom_voice_0_6b") == ModelChoice(Variant.CUSTOM_VOICE, "0.6B")
    assert model_choice("Qwen/Qwen3-TTS-12Hz-1.7B-VoiceDesign") == ModelChoice(Variant.VOICE_DESIGN, "1.7B")
    assert model_choice(" qwen/qwen3-tts-12hz-1.7b-base ") == ModelChoice(Variant.VOICE_CLONE, "1.7B")
    assert model_choice("tts-1") == ModelChoice(None, None)  # the server's default size
    assert model_choice("TTS-1-HD") == ModelChoice(None, "1.7B") and model_choice("gpt-4o-mini-tts") == ModelChoice(
        None, "1.7B"
    )
    assert model_choice("whisper-1") is None and model_choice("voice_design_0_6b") is None
    ids = model_ids()
    assert len(ids) == 8 and "voice_clone_0_6b" in ids and ids[-3:] == ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"]


def test_voices_presets_any_case_and_every_openai_name_maps_to_a_preset():
    assert preset_voice("ryan") == "Ryan" and preset_voice("UNCLE_FU") == "Uncle_Fu"
    assert preset_voice("Alloy") == "Ryan" and preset_voice("nova") == "Vivian"
    assert preset_voice("my_cloned_voice") is None
    assert set(OPENAI_VOICES.values()) <= set(SPEAKERS)
    sdk_names = {"alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar", "fable"}
    assert sdk_names | {"onyx", "nova"} == set(OPENAI_VOICES)


def test_task_types_are_the_three_variants():
    assert {task.variant for task in TaskType} == set(Variant)
    assert TaskType("Base").variant is Variant.VOICE_CLONE


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (ValidationFailed("speed: too fast", field="speed"), 400, "invalid_request_error"),
        (NotFoundError("voice: unknown", field="voice"), 404, "invalid_request_error"),
        (UnauthorizedError("missing API key"), 401, "authentication_error"),
        (OverloadedError("busy"), 429, "rate_limit_error"),
        (BackendError("failed"), 502, "server_error"),
    ],
)
def test_openai_errors_keep_the_message_and_name_the_field(error, status, kind):
    found_status, body = openai_error(error)
    assert found_status == status
    assert body == {"error": {"message": error.message, "type": kind, "param": error.field, "code": error.kind}}


def test_every_kind_of_the_taxonomy_has_an_openai_mapping():
    from api import errors

    kinds = {cls.kind for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.ApiError)}
    assert kinds <= set(OPENAI_ERRORS)


def test_speech_request_fields_and_bounds():
    body = SpeechRequest(model="tts-1", input="Hi", voice={"id": "v_1"})
    assert isinstance(body.voice, VoiceRef) and body.voice_name == "v_1"
    assert body.response_format == "mp3" and body.speed == 1.0 and body.stream_format == "audio"
    for bad in ({"speed": 0.2}, {"speed": 4.01}, {"response_format": "ogg"}, {"input": "\u200b"}, {"stream": True}):
        with pytest.raises(ValidationError):
            SpeechRequest.model_validate({"model": "tts-1", "input": "Hi", "voice": "alloy", **bad})
    assert SpeechRequest(model="m", input="x", language="english").language == "English"
