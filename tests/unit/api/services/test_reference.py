"""Reference audio limits: too short, a sample rate out of bounds or silence is a 422 naming the
limit, too long a 413 naming it; stereo and 44.1/48 kHz references are accepted (downmixed here,
resampled by the engine), and the same checks hold on every route that takes a reference."""

from __future__ import annotations

import asyncio
import base64
import io

import numpy as np
import pytest
import soundfile as sf
from fastapi.testclient import TestClient
from pydantic import ValidationError

from api.errors import BadRequestError, PayloadTooLargeError, ValidationFailed
from api.services import reference
from api.settings import Settings

V1 = "/api/v1"
SETTINGS = Settings()


def wav(seconds: float, rate: int = 16_000, *, channels: int = 1, amplitude: float = 0.3) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    mono = (amplitude * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    samples = np.stack([mono, 0.5 * mono], axis=1) if channels == 2 else mono
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def decode(data: bytes, settings: Settings = SETTINGS):  # type: ignore[no-untyped-def]
    return asyncio.run(reference.decode(data, field="ref_audio", settings=settings))


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (wav(0.4), "0.40 s long; at least 1 s is needed"),
        (wav(3.0, rate=4_000), "sample rate is 4000 Hz; at least 8000 Hz is needed"),
        (wav(3.0, amplitude=0.0), "silent"),
        (wav(3.0, amplitude=0.0005), "silent"),  # -66 dBFS: hiss, no voice
    ],
    ids=["short", "4kHz", "silent", "near-silent"],
)
def test_unusable_references_are_422_naming_the_limit(data: bytes, needle: str):
    with pytest.raises(ValidationFailed) as caught:
        decode(data)
    assert needle in caught.value.message and caught.value.field == "ref_audio", caught.value.message
    assert caught.value.message.startswith("ref_audio: the reference audio cannot be used")


def test_a_reference_past_the_longest_is_413_naming_it():
    with pytest.raises(PayloadTooLargeError, match="longer than the 30 s allowed") as caught:
        decode(wav(31.0, rate=8_000))
    assert caught.value.field == "ref_audio"
    with pytest.raises(PayloadTooLargeError, match="longer than the 5 s allowed"):
        decode(wav(6.0), Settings(ref_audio_max_seconds=5))


def test_audio_that_does_not_decode_is_400():
    with pytest.raises(BadRequestError) as caught:
        decode(b"RIFF not really a wav" * 100)
    assert caught.value.status_code == 400 and caught.value.field == "ref_audio"


@pytest.mark.parametrize(("rate", "channels"), [(44_100, 2), (48_000, 2), (48_000, 1), (8_000, 1), (22_050, 2)])
def test_stereo_and_other_rates_are_accepted_as_mono_at_their_rate(rate: int, channels: int):
    audio = decode(wav(3.0, rate=rate, channels=channels))
    assert audio.samples.ndim == 1 and audio.sample_rate == rate  # the engine resamples to 24 kHz once
    assert audio.duration_seconds == pytest.approx(3.0, abs=0.01)


def test_limits_are_settings():
    assert decode(wav(0.6), Settings(ref_audio_min_seconds=0.5)).duration_seconds == pytest.approx(0.6)
    with pytest.raises(ValidationFailed, match="at least 2 s"):
        decode(wav(1.5), Settings(ref_audio_min_seconds=2))
    with pytest.raises(ValidationFailed, match="at least 16000 Hz"):
        decode(wav(3.0, rate=8_000), Settings(ref_audio_min_sample_rate=16_000))
    with pytest.raises(ValidationError):
        Settings(ref_audio_min_seconds=0.1)  # below what the engine accepts
    with pytest.raises(ValidationError):
        Settings(ref_audio_max_seconds=120)  # above what the engine accepts
    with pytest.raises(ValidationError, match="must not exceed"):
        Settings(ref_audio_min_seconds=20, ref_audio_max_seconds=10)


def test_a_stored_reference_is_only_decoded():
    # limits tightened after a voice was created must not break it
    audio = asyncio.run(reference.decode_stored(wav(0.6), field="ref_audio"))
    assert audio.duration_seconds == pytest.approx(0.6)


def test_every_route_taking_a_reference_checks_it(app_client: TestClient):
    short = wav(0.4)
    form = {"text": "Hola", "ref_text": "Hola"}
    upload = app_client.post(f"{V1}/tts/clone/upload", data=form, files={"ref_audio": ("a.wav", short, "audio/wav")})
    voice_form = {"name": "Voz", "ref_text": "Hola"}
    files = {"ref_audio": ("a.wav", short, "audio/wav")}
    voice_upload = app_client.post(f"{V1}/cloned-voices/upload", data=voice_form, files=files)
    encoded = base64.b64encode(short).decode()
    voice_json = app_client.post(f"{V1}/cloned-voices", json={**voice_form, "ref_audio_base64": encoded})
    for response, field in ((upload, "ref_audio"), (voice_upload, "ref_audio"), (voice_json, "ref_audio_base64")):
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["field"] == field and "at least 1 s is needed" in body["error"], body
    assert app_client.get(f"{V1}/cloned-voices").json()["total"] == 0
    stereo = wav(3.0, rate=44_100, channels=2)
    files = {"ref_audio": ("a.wav", stereo, "audio/wav")}
    accepted = app_client.post(f"{V1}/tts/clone/upload", data={**form, "max_new_tokens": "4"}, files=files)
    assert accepted.status_code == 200, accepted.text
