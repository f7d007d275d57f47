"""Long text through the real API and Triton (tiny checkpoints): split at the sentences the test
expects, segments generated concurrently, one output lasting the sum of its segments plus the pauses.

Sizes: a 3,000-character Spanish text (10 segments), a 1,500-character Chinese text (15 segments),
a 900-character VoiceDesign text and the same through the OpenAI route (3 segments each) and a
1,200-character job (4 segments); 8 frames per
segment, so the whole file takes well under a minute on 2 CPU cores.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import httpx
import pytest
import soundfile as sf

from devtools.servers import ApiServer, TritonServer, run_api
from tests.e2e.jobs.jobs_client import read_stream, submit

pytestmark = pytest.mark.e2e
FAST = {"max_new_tokens": 8, "seed": 7}
PAUSE = 0.3  # QWEN_TTS_SEGMENT_PAUSE_SECONDS, default
BUDGET = 300  # QWEN_TTS_SEGMENT_MAX_CHARS, default


def padded(sentence: str, length: int, filler: str) -> str:
    """`sentence` grown with `filler` to exactly `length` characters, its final mark kept last."""
    body, mark = sentence[:-1], sentence[-1]
    while len(body) + len(filler) + 1 <= length:
        body += filler
    return (body + "x" * (length - len(body) - 1))[: length - 1] + mark


# Every sentence is 99 characters and a space: three (299 characters) fill a segment of 300. Each has
# a trap for a naive splitter (abbreviations, decimals, ¿¡ inside, a question going on in lower case).
SPANISH = [
    "El Sr. García pagó 3.50 euros por el pan.",
    "¿Vienes mañana? preguntó la Sra. López con calma.",
    "¡Qué día tan bonito hace hoy en la ciudad!",
    "La Dra. Pérez llegó, p. ej., a las 9.30 de la mañana.",
    "Ud. sabe que el 1.º de enero es fiesta.",
]
CHINESE = [  # 25 characters each (75 units): four fill a segment
    "今天天气很好，我们一起去公园散步吧。",
    "你知道明天会不会下雨吗？",
    "这本书真的非常有意思！",
]


def spanish_text() -> str:
    sentences = [padded(SPANISH[i % len(SPANISH)], 99, " muy") for i in range(30)]
    return " ".join(sentences) + " "


def chinese_text() -> str:
    return "".join(padded(CHINESE[i % len(CHINESE)], 25, "好") for i in range(60))


def check_joined(body: dict, expected_spans: list[tuple[int, int]]) -> None:
    segments = body["segments"]
    assert [(s["start"], s["end"]) for s in segments] == expected_spans
    durations = [s["duration_seconds"] for s in segments]
    expected = sum(durations) + PAUSE * (len(segments) - 1)
    assert abs(body["duration_seconds"] - expected) <= 0.001 * len(segments), (body["duration_seconds"], expected)
    audio, rate = sf.read(io.BytesIO(base64.b64decode(body["audio_base64"])), dtype="float32")
    assert rate == 24000 and abs(audio.size / rate - body["duration_seconds"]) < 0.001


def speak(client: httpx.Client, text: str, language: str) -> dict:
    response = client.post("/tts/custom", json={"text": text, "speaker": "Vivian", "language": language, **FAST})
    assert response.status_code == 200, response.text[:500]
    return dict(response.json())


@pytest.mark.parametrize(
    ("text", "length", "language", "spans", "marks"),
    [
        pytest.param(spanish_text(), 3000, "Spanish", [(300 * k, 300 * k + 299) for k in range(10)], ".?!", id="es"),
        pytest.param(chinese_text(), 1500, "Chinese", [(100 * k, 100 * k + 100) for k in range(15)], "。？！", id="zh"),
    ],
)
def test_a_long_text_is_one_output_split_at_its_sentences(
    client: httpx.Client, text: str, length: int, language: str, spans: list[tuple[int, int]], marks: str
) -> None:
    """Spanish: 3,000 characters in 10 segments; Chinese: 1,500 in 15, each ending at a full stop."""
    assert len(text) == length
    body = speak(client, text, language)
    check_joined(body, spans)
    assert all(text[s["end"] - 1] in marks for s in body["segments"])
    assert {s["model"] for s in body["segments"]} == {"custom_voice_1_7b"}


def test_voice_design_designs_the_first_segment_and_clones_it_for_the_rest(client: httpx.Client) -> None:
    text = spanish_text()[:900]
    body = {"text": text, "voice_description": "Una voz grave y tranquila", "language": "Spanish", **FAST}
    response = client.post("/tts/design", json=body)
    assert response.status_code == 200, response.text[:500]
    segments = response.json()["segments"]
    assert [s["model"] for s in segments] == ["voice_design_1_7b", "voice_clone_1_7b", "voice_clone_1_7b"]


def test_the_openai_route_streams_the_same_segments_in_order(client: httpx.Client, api: ApiServer) -> None:
    text = spanish_text()[:900]
    body = {"text": text, "speaker": "Ryan", "language": "Spanish", **FAST}
    whole = client.post("/tts/custom", json=body).json()
    speech = {"model": "custom_voice_1_7b", "voice": "Ryan", "input": text, "language": "Spanish",
              "response_format": "pcm", **FAST}  # fmt: skip
    response = httpx.post(f"{api.url}/v1/audio/speech", json=speech, timeout=120)
    assert response.status_code == 200, response.text[:300]
    assert len(whole["segments"]) == 3
    # the same seeded segments, streamed: as long as the joined answer, pauses included
    assert len(response.content) / 48000 == pytest.approx(whole["duration_seconds"], abs=0.002)


def test_the_synchronous_limit_is_named(client: httpx.Client) -> None:
    response = client.post("/tts/custom", json={"text": "Hola. " * 3334, "speaker": "Vivian"})
    assert response.status_code == 422 and "the limit is 20000 characters" in response.json()["error"]


def test_a_long_job_reports_its_segments_as_they_are_done(triton: TritonServer, log_dir: Path) -> None:
    # One segment at a time and 24 frames each, so the stream (polling every 50 ms) sees them pass.
    settings = {"segment_concurrency": "1", "job_poll_interval_seconds": "0.05"}
    text = spanish_text()[:1200]
    with (
        run_api(triton.grpc_url, log_dir, name="api-longform-job", **settings) as api,
        httpx.Client(base_url=f"{api.url}/api/v1", timeout=120) as client,
    ):
        job_id = submit(client, "custom_voice", text=text, speaker="Vivian", language="Spanish", max_new_tokens=24)
        events = read_stream(client, job_id)
    assert events[-1][0] == "completed", events[-1]
    counts = [(d["segments_done"], d["segments_total"]) for name, _, d in events if "segments_total" in d]
    assert len(counts) >= 2 and {total for _, total in counts} == {4}, counts
    done = [d for d, _ in counts]
    assert done == sorted(done) and len(set(done)) >= 2, "segments done grow as they are generated"
    percents = [d["percent"] for name, _, d in events if name == "progress"]
    assert percents == sorted(percents)
    assert len(events[-1][2]["result"]["segments"]) == 4
