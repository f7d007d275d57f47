"""The synchronous endpoints through the real API, the real Triton server and the tiny checkpoints."""

from __future__ import annotations

import base64
import io
import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
import soundfile as sf

from api.audio.decode import decode_audio
from devtools.servers import audio_host

pytestmark = pytest.mark.e2e
FAST = {"max_new_tokens": 20}


def reference_wav(seconds: float = 3.0, rate: int = 16000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    rng = np.random.default_rng(0)
    signal = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t)) + 0.02 * rng.standard_normal(
        t.size
    )
    buf = io.BytesIO()
    sf.write(buf, signal.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


@pytest.fixture(scope="module")
def audio_server() -> Iterator[str]:
    """A local HTTP server standing in for the caller's audio host."""
    files = {"/voice.wav": reference_wav(), "/garbage.wav": b"this is not audio at all" * 100}
    with audio_host(files) as url:
        yield url


def check_audio(body: dict, fmt: str) -> None:
    assert body["success"] is True and body["error"] is None
    audio = decode_audio(base64.b64decode(body["audio_base64"]))
    assert body["sample_rate"] == 24000
    assert body["duration_seconds"] > 0
    # lossy codecs pad a little: within 80 ms (one codec frame) of what the model produced
    assert abs(audio.duration_seconds - body["duration_seconds"]) < 0.08, fmt
    assert float(np.sqrt(np.mean(audio.samples**2))) > 1e-3, "tiny checkpoints speak noise, not silence"


def test_health_and_models_tell_the_truth(client: httpx.Client):
    health = client.get("/health").json()
    assert health["status"] == "healthy" and health["triton_ready"] is True
    # custom_voice_0_6b may have been loaded on demand by another test: check the resident ones
    resident = {"1.7B_custom_voice", "1.7B_voice_design", "1.7B_voice_clone", "0.6B_voice_clone"}
    assert resident <= set(health["models_loaded"])
    assert health["random_weights"] is True and "RANDOM" in health["warning"]
    assert health["cuda_available"] is False and health["default_model_size"] == "1.7B"
    models = client.get("/models").json()
    assert models["available_models"]["1.7B"]["custom_voice"] == "Qwen/Qwen3-TTS-12Hz-1.7B-CustomVoice"
    assert "voice_design" not in models["available_models"]["0.6B"]
    kinds = {w["model_name"]: (w["weights_kind"], w["loaded"]) for w in models["weights"]}
    assert kinds["custom_voice_1_7b"] == ("tiny_random", True)
    assert kinds["custom_voice_0_6b"] == ("tiny_random", "0.6B_custom_voice" in health["models_loaded"])
    assert len(kinds) == 5
    # a loaded model's batch: its rows and its preallocated KV cache (the counter engine's, on the CPU too)
    pools = {w["model_name"]: (w["max_rows"], w["kv_cache_gb"]) for w in models["weights"] if w["loaded"]}
    rows, kv_cache_gb = pools["custom_voice_1_7b"]
    assert rows >= 1 and kv_cache_gb > 0


def test_speakers_and_languages(client: httpx.Client):
    speakers = client.get("/speakers").json()
    assert "Ryan" in speakers["speakers"] and speakers["details"]["Ryan"]["language"] == "English"
    assert "Auto" in client.get("/languages").json()["languages"]


@pytest.mark.parametrize("fmt", ["wav", "mp3", "ogg", "opus"])
def test_custom_voice_in_every_format(client: httpx.Client, fmt: str):
    body = {"text": "Hello world, this is a test.", "speaker": "Ryan", "language": "English", "output_format": fmt}
    response = client.post("/tts/custom", json={**body, "instruction": "Clear", **FAST})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["model_used"] == "1.7B_custom_voice" and data["output_format"] == fmt
    check_audio(data, fmt)


def test_voice_design(client: httpx.Client):
    body = {"text": "Bienvenidos.", "voice_description": "gender: Female, pitch: Medium", "temperature": 0.7, **FAST}
    response = client.post("/tts/design", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["model_used"] == "1.7B_voice_design"
    check_audio(response.json(), "wav")


def test_clone_from_url(client: httpx.Client, audio_server: str):
    body = {
        "text": "Mi voz clonada.",
        "ref_audio_url": f"{audio_server}/voice.wav",
        "ref_text": "Hola, esta es mi voz.",
    }
    response = client.post("/tts/clone/url", json={**body, "model_size": "0.6B", "output_format": "ogg", **FAST})
    assert response.status_code == 200, response.text
    assert response.json()["model_used"] == "0.6B_voice_clone"
    check_audio(response.json(), "ogg")


def test_clone_from_upload(client: httpx.Client):
    form = {"text": "Mi voz clonada", "ref_text": "Hola, esta es mi voz", "language": "Spanish", "max_new_tokens": "20"}
    response = client.post(
        "/tts/clone/upload", data=form, files={"ref_audio": ("voice.wav", reference_wav(), "audio/wav")}
    )
    assert response.status_code == 200, response.text
    assert response.json()["model_used"] == "1.7B_voice_clone"
    check_audio(response.json(), "wav")


CUSTOM = {"text": "Hello", "speaker": "Ryan", **FAST}


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/tts/custom", {**CUSTOM, "speaker": "Nobody"}, 422, "speaker"),
        ("/tts/custom", {**CUSTOM, "language": "Klingon"}, 422, "language"),
        ("/tts/custom", {**CUSTOM, "text": ""}, 422, "text"),
        ("/tts/custom", {**CUSTOM, "text": "   "}, 422, "text"),
        ("/tts/custom", {**CUSTOM, "output_format": "flac"}, 422, "output_format"),
        ("/tts/custom", {**CUSTOM, "model_size": "7B"}, 422, "model_size"),
        ("/tts/custom", {**CUSTOM, "temperature": 5}, 422, "temperature"),
        ("/tts/custom", {**CUSTOM, "max_new_tokens": 100000}, 422, "max_new_tokens"),
        ("/tts/custom", {"text": "Hello"}, 422, "speaker"),
        ("/tts/design", {"text": "Hi", "voice_description": "calm", "model_size": "0.6B"}, 422, "model_size"),
        (
            "/tts/clone/url",
            {"text": "Hi", "ref_audio_url": "file:///etc/passwd", "ref_text": "x"},
            422,
            "ref_audio_url",
        ),
        (
            "/tts/clone/url",
            {"text": "Hi", "ref_audio_url": "http://127.0.0.1:9/x.wav", "ref_text": ""},
            422,
            "ref_text",
        ),
    ],
)
def test_bad_input_is_a_clear_4xx_naming_the_field(client: httpx.Client, path, body, status, field):
    response = client.post(path, json=body)
    assert response.status_code == status, response.text
    data = response.json()
    assert data["success"] is False and field in data["error"]


def test_text_is_checked_before_any_inference(client: httpx.Client):
    """Control characters, invisible-only and over-long text: 422 naming the field (and the character
    or the limit) through the real API; whitespace controls and combining accents are spoken."""
    cases = [("Hola\x00mundo", "U+0000 at index 4"), ("\u200b\u200d\ufeff", "must not be empty"),
             ("Hola\x1b[2J", "U+001B at index 4"), ("x" * 20_001, "the limit is 20000 characters")]  # fmt: skip
    for text, needle in cases:
        response = client.post("/tts/custom", json={**CUSTOM, "text": text})
        assert response.status_code == 422, (text[:20], response.text)
        body = response.json()
        assert body["field"] == "text" and needle in body["error"], body
    spoken = client.post("/tts/custom", json={**CUSTOM, "text": "Cafe\u0301,\tpor\nfavor."})
    assert spoken.status_code == 200, spoken.text
    check_audio(spoken.json(), "wav")


def test_clone_errors(client: httpx.Client, audio_server: str):
    garbage = client.post(
        "/tts/clone/url", json={"text": "Hi", "ref_audio_url": f"{audio_server}/garbage.wav", "ref_text": "x"}
    )
    assert garbage.status_code == 400 and "decode" in garbage.json()["error"]
    missing = client.post(
        "/tts/clone/url", json={"text": "Hi", "ref_audio_url": f"{audio_server}/nope.wav", "ref_text": "x"}
    )
    assert missing.status_code == 400 and "404" in missing.json()["error"]
    too_big = client.post(
        "/tts/clone/upload",
        data={"text": "Hi", "ref_text": "x"},
        files={"ref_audio": ("big.wav", b"\0" * (10 * 1024 * 1024 + 1), "audio/wav")},
    )
    assert too_big.status_code == 413
    no_text = client.post(
        "/tts/clone/upload", data={"text": "Hi"}, files={"ref_audio": ("v.wav", reference_wav(), "audio/wav")}
    )
    assert no_text.status_code == 422 and "ref_text" in no_text.json()["error"]


def test_reference_limits_and_conversion(client: httpx.Client):
    """A 44.1 kHz stereo and a 48 kHz reference are cloned from (downmixed, resampled by the engine);
    too short, telephone-band-less and silent references are a 422 naming the limit, before Triton."""
    form = {"text": "Mi voz clonada", "ref_text": "Hola, esta es mi voz", "max_new_tokens": "12"}
    t = np.arange(int(3.0 * 44_100)) / 44_100
    left = 0.3 * np.sin(2 * np.pi * 180 * t)
    stereo = io.BytesIO()
    sf.write(stereo, np.stack([left, 0.5 * left], axis=1).astype(np.float32), 44_100, format="WAV")
    for name, data in (("stereo-44k.wav", stereo.getvalue()), ("mono-48k.wav", reference_wav(3.0, 48_000))):
        response = client.post("/tts/clone/upload", data=form, files={"ref_audio": (name, data, "audio/wav")})
        assert response.status_code == 200, (name, response.text)
        check_audio(response.json(), "wav")
    silent = io.BytesIO()
    sf.write(silent, np.zeros(48_000, np.float32), 16_000, format="WAV")
    bad = [(reference_wav(0.5), "at least 1 s is needed"), (reference_wav(3.0, 4_000), "at least 8000 Hz"),
           (silent.getvalue(), "silent")]  # fmt: skip
    for data, needle in bad:
        response = client.post("/tts/clone/upload", data=form, files={"ref_audio": ("r.wav", data, "audio/wav")})
        assert response.status_code == 422, (needle, response.text)
        assert response.json()["field"] == "ref_audio" and needle in response.json()["error"], response.json()


@pytest.mark.parametrize("path", ["/tts/clone/upload", "/cloned-voices", "/jobs"])
def test_a_declared_gigabyte_body_is_refused_unread(client: httpx.Client, path: str):
    """The server answers 413 to the headers alone: the client never sends the gigabyte, and the
    server never waits for it (without the cap it would sit reading, and this would time out)."""
    url = httpx.URL(str(client.base_url))
    with socket.create_connection((url.host, url.port), timeout=10) as conn:
        head = (
            f"POST {url.path.rstrip('/')}{path} HTTP/1.1\r\nHost: {url.host}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n{"
        )
        conn.sendall(head.encode())
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)  # a 10 s timeout: a server waiting for the body fails the test
            if not chunk:
                break
            reply += chunk
    status_line, _, rest = reply.partition(b"\r\n")
    assert status_line.startswith(b"HTTP/1.1 413"), reply[:300]
    body = json.loads(rest.partition(b"\r\n\r\n")[2])
    assert body["error_type"] == "payload_too_large" and "bytes allowed" in body["error"], body


def test_concurrent_requests_are_batched(client: httpx.Client, triton):
    stats_url = f"{triton.http_url}/v2/models/custom_voice_1_7b/stats"

    def counts() -> tuple[int, int]:
        stats = httpx.get(stats_url).json()["model_stats"][0]
        return int(stats["inference_count"]), int(stats["execution_count"])

    before = counts()
    texts = [f"Request number {i} with some words." for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(lambda t: client.post("/tts/custom", json={**CUSTOM, "text": t}), texts))
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    after = counts()
    inferences, executions = after[0] - before[0], after[1] - before[1]
    assert inferences == 8
    assert executions < inferences, f"8 requests took {executions} executions: not batched"
