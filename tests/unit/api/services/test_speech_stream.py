"""OpenAI's speech events: audio deltas in base64, then `done` with the usage and the duration sent;
an error after audio has flowed is an `error` event in OpenAI's shape."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator

from api.audio.stream import StreamFormat
from api.errors import BackendError
from api.services.speech_stream import SpeechOptions, Tally, _events, sse


async def pieces(*items: bytes | Exception) -> AsyncIterator[bytes]:
    for item in items:
        if isinstance(item, Exception):
            raise item
        yield item


def events(source: AsyncIterator[bytes], tally: Tally, options: SpeechOptions) -> list[dict]:
    async def run() -> list[bytes]:
        return [chunk async for chunk in _events(source, tally, options)]

    raw = b"".join(asyncio.run(run())).decode()
    assert raw.endswith("\n\n")
    return [json.loads(block.removeprefix("data: ")) for block in raw.strip().split("\n\n")]


def test_deltas_then_done_with_usage_and_duration():
    options = SpeechOptions(StreamFormat.PCM, speed=2.0, sse=True, characters=11)
    tally = Tally("custom_voice_1_7b", seconds=1.6)  # 20 codec frames generated
    found = events(pieces(b"ab", b"cd"), tally, options)
    assert [base64.b64decode(e["audio"]) for e in found[:2]] == [b"ab", b"cd"]
    assert found[2] == {
        "type": "speech.audio.done",
        "usage": {"input_tokens": 11, "output_tokens": 20, "total_tokens": 31},
        "duration_seconds": 0.8,  # at speed 2
    }


def test_a_failure_mid_stream_is_an_error_event():
    options = SpeechOptions(StreamFormat.MP3, speed=1.0, sse=True, characters=3)
    found = events(pieces(b"ab", BackendError("inference failed on model m")), Tally("m"), options)
    assert found[0]["type"] == "speech.audio.delta"
    assert found[1] == {
        "type": "error",
        "error": {"message": "inference failed on model m", "type": "server_error", "param": None, "code": "backend"},
    }


def test_sse_frames_one_event_per_data_line():
    assert sse({"type": "x", "n": 1}) == b'data: {"type":"x","n":1}\n\n'
