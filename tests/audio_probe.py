"""What ffprobe says of encoded audio: codec, channels, rate, and the duration its packets add up to
(exact for streams whose header leaves the length unknown: wav and flac streamed, mp3 without Xing,
ADTS)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class Probe:
    codec: str
    channels: int
    sample_rate: int
    duration: float


RAW_PCM = ["-f", "s16le", "-ar", "24000", "-ac", "1"]


def probe(data: bytes, *, raw_pcm: bool = False) -> Probe:
    command = [
        "ffprobe", "-v", "error", *(RAW_PCM if raw_pcm else []), "-i", "pipe:0",
        "-show_entries", "stream=codec_name,channels,sample_rate:packet=duration_time", "-of", "json",
    ]  # fmt: skip
    done = subprocess.run(command, input=data, capture_output=True, timeout=60, check=True)
    found = json.loads(done.stdout)
    stream = found["streams"][0]
    duration = sum(float(p.get("duration_time", 0)) for p in found.get("packets", []))
    return Probe(stream["codec_name"], int(stream["channels"]), int(stream["sample_rate"]), duration)
