"""The OpenAI-compatible API through the real API and Triton, with OpenAI's own Python package as the
client: every format (ffprobe: codec, mono, length), streamed reading, the SSE form, a cloned voice
by name, VoiceDesign and Base by task_type, OpenAI-shaped errors naming the field."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator

import openai
import pytest

from devtools.servers import ApiServer, audio_host
from tests.audio_probe import probe
from tests.e2e.test_cloned_voices import reference_wav

pytestmark = pytest.mark.e2e

TEXT = "The quick brown fox jumps over the lazy dog, and then it rests."
SEEDED = {"max_new_tokens": 30, "seed": 11}  # same seed, same audio: every format the same length
CODECS = {"mp3": "mp3", "opus": "opus", "aac": "aac", "flac": "flac", "wav": "pcm_s16le", "pcm": "pcm_s16le"}
BYTES_PER_SECOND = 48000  # pcm: 24 kHz, 16-bit, mono


@pytest.fixture(scope="module")
def oai(api: ApiServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{api.url}/v1", api_key="not-needed-with-auth-off", timeout=300) as client:
        yield client


def sse_events(lines: Iterator[str]) -> list[dict]:
    return [json.loads(line.removeprefix("data: ")) for line in lines if line.startswith("data: ")]


@pytest.fixture(scope="module")
def reported(oai: openai.OpenAI) -> float:
    """The duration the SSE form reports for the seeded request (and its pcm deltas agree)."""
    with oai.audio.speech.with_streaming_response.create(
        model="tts-1", voice="alloy", input=TEXT, response_format="pcm", stream_format="sse", extra_body=SEEDED
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.iter_lines())
    deltas, done = events[:-1], events[-1]
    assert {e["type"] for e in deltas} == {"speech.audio.delta"} and done["type"] == "speech.audio.done"
    pcm = b"".join(base64.b64decode(e["audio"]) for e in deltas)
    assert done["duration_seconds"] == pytest.approx(len(pcm) / BYTES_PER_SECOND, abs=0.001)
    usage = done["usage"]
    assert usage["input_tokens"] == len(TEXT) and usage["output_tokens"] == round(done["duration_seconds"] / 0.08)
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    return float(done["duration_seconds"])


@pytest.mark.parametrize("fmt", list(CODECS))
def test_every_format_through_the_sdk(oai: openai.OpenAI, reported: float, fmt: str) -> None:
    response = oai.audio.speech.with_raw_response.create(
        model="tts-1", voice="alloy", input=TEXT, response_format=fmt, extra_body=SEEDED
    )
    assert response.headers["x-qwen-tts-model"] == "custom_voice_1_7b"
    found = probe(response.content, raw_pcm=fmt == "pcm")
    assert found.codec == CODECS[fmt] and found.channels == 1
    assert found.duration == pytest.approx(reported, rel=0.05), fmt


def test_mp3_is_the_default_and_speed_keeps_it_shorter(oai: openai.OpenAI, reported: float) -> None:
    audio = oai.audio.speech.create(model="tts-1-hd", voice="ALLOY", input=TEXT, speed=2.0, extra_body=SEEDED)
    found = probe(audio.content)
    # mp3 adds a fixed encoder delay and padding to whole frames (up to about 0.1 s at 24 kHz),
    # which a short clip cannot hide within 5%
    assert found.codec == "mp3" and found.duration == pytest.approx(reported / 2, rel=0.05, abs=0.1)


def _streamed(oai: openai.OpenAI, seed: int) -> tuple[list[bytes], list[float]]:
    arrivals: list[float] = []
    pieces: list[bytes] = []
    started = time.perf_counter()
    with oai.audio.speech.with_streaming_response.create(
        model="custom_voice_1_7b",
        voice="Ryan",
        input=TEXT,
        response_format="pcm",
        extra_body={"max_new_tokens": 64, "seed": seed},
    ) as response:
        for piece in response.iter_bytes():
            pieces.append(piece)
            arrivals.append(time.perf_counter() - started)
    return pieces, arrivals


def test_with_streaming_response_reads_chunks_as_they_come(oai: openai.OpenAI) -> None:
    # The tiny random checkpoints may sample EOS within a few frames: take the first of a few seeds that
    # speaks for at least two chunks (a seeded row gives the same audio every time).
    for seed in range(12):
        pieces, arrivals = _streamed(oai, seed)
        audio = b"".join(pieces)
        assert len(audio) % (1920 * 2) == 0  # whole frames of 80 ms
        if len(audio) >= 2 * 8 * 1920 * 2:
            break
    assert len(audio) >= 2 * 8 * 1920 * 2, "no seed of 12 spoke for two chunks"
    assert len(pieces) >= 2 and arrivals[0] < arrivals[-1]


def test_a_cloned_voice_by_name_then_deleted(oai: openai.OpenAI) -> None:
    voice = oai.audio.voices.create(
        audio_sample=("narrator.wav", reference_wav(), "audio/wav"),
        consent="cons_local",
        name="E2E Narrator",
        extra_body={"ref_text": "A short sample of my voice.", "language": "English"},
    )
    assert voice.object == "audio.voice" and voice.type == "audio_sample" and voice.created_at > 0
    listed = oai.get("/audio/voices", cast_to=object)
    assert isinstance(listed, dict)
    assert voice.id in {v["id"] for v in listed["data"]} and "Ryan" in {v["id"] for v in listed["data"]}
    for name in ("e2e narrator", voice.id):
        response = oai.audio.speech.with_raw_response.create(
            model="tts-1", voice=name, input="Cloned.", response_format="wav", extra_body={"max_new_tokens": 16}
        )
        assert response.headers["x-qwen-tts-model"] == "voice_clone_1_7b"
        assert probe(response.content).duration > 0
    response = oai.audio.speech.with_raw_response.create(
        model="tts-1", voice={"id": voice.id}, input="Cloned.", response_format="pcm", extra_body={"max_new_tokens": 8}
    )
    assert response.content
    deleted = oai.audio.voices.delete(voice.id)
    assert deleted.deleted and deleted.id == voice.id
    with pytest.raises(openai.NotFoundError) as caught:
        oai.audio.speech.create(model="tts-1", voice=voice.id, input="Gone.", extra_body={"max_new_tokens": 8})
    assert caught.value.body["param"] == "voice"  # type: ignore[index]


def test_voice_design_and_base_through_task_type(oai: openai.OpenAI) -> None:
    design = oai.audio.speech.with_raw_response.create(
        model="tts-1",
        voice="alloy",  # ignored: the voice is described
        input="Designed.",
        instructions="A calm, low voice, speaking slowly.",
        response_format="flac",
        extra_body={"task_type": "VoiceDesign", "max_new_tokens": 16},
    )
    assert design.headers["x-qwen-tts-model"] == "voice_design_1_7b" and probe(design.content).codec == "flac"
    data_uri = "data:audio/wav;base64," + base64.b64encode(reference_wav()).decode()
    with audio_host({"/ref.wav": reference_wav()}) as host:
        for ref_audio in (data_uri, f"{host}/ref.wav"):
            base = oai.audio.speech.with_raw_response.create(
                model="gpt-4o-mini-tts",
                voice="alloy",
                input="Cloned on the fly.",
                response_format="opus",
                extra_body={"task_type": "Base", "ref_audio": ref_audio, "ref_text": "A sample.", "max_new_tokens": 16},
            )
            assert base.headers["x-qwen-tts-model"] == "voice_clone_1_7b" and probe(base.content).codec == "opus"


@pytest.mark.parametrize(
    ("change", "status", "param"),
    [
        ({"voice": "no-such-voice-zz"}, 404, "voice"),
        ({"model": "tts-9000"}, 404, "model"),
        ({"response_format": "ogg"}, 400, "response_format"),
        ({"speed": 4.5}, 400, "speed"),
        ({"speed": 0.2}, 400, "speed"),
        ({"input": ""}, 400, "input"),
        ({"input": " \u200b "}, 400, "input"),
        ({"voice": "Ryan", "extra_body": {"task_type": "Base"}}, 400, "voice"),
        ({"extra_body": {"task_type": "VoiceDesign"}}, 400, "instructions"),
        ({"extra_body": {"ref_audio": "http://169.254.169.254/latest", "ref_text": "x"}}, 400, "ref_audio"),
        ({"extra_body": {"language": "Klingon"}}, 400, "language"),
        ({"extra_body": {"max_new_tokens": 99999}}, 400, "max_new_tokens"),
    ],
)
def test_bad_input_is_an_openai_error_naming_the_field(oai: openai.OpenAI, change: dict, status: int, param: str):
    request = {"model": "tts-1", "voice": "alloy", "input": "Hello.", **change}
    with pytest.raises(openai.APIStatusError) as caught:
        oai.audio.speech.create(**request)
    error = caught.value
    assert error.status_code == status, error.response.text
    body = error.response.json()["error"]
    assert body["param"] == param and body["message"] and body["type"] == "invalid_request_error", body


def test_models_list_the_deployments_models_and_the_aliases(oai: openai.OpenAI) -> None:
    ids = {model.id for model in oai.models.list()}
    assert {"custom_voice_1_7b", "voice_design_1_7b", "voice_clone_0_6b", "tts-1", "tts-1-hd", "gpt-4o-mini-tts"} <= ids
    assert oai.models.retrieve("Qwen/Qwen3-TTS-12Hz-1.7B-Base").id == "Qwen/Qwen3-TTS-12Hz-1.7B-Base"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("whisper-1")
