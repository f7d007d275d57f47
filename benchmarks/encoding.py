"""Measure what each candidate way of encoding TTS output costs, per output format.

Every candidate encodes the same 10 s of 24 kHz speech-like float32 audio several times; the table
shows the median cost in ms per second of audio, its ratio to the fastest candidate of the same
format, the output size per second of audio and what ffprobe says the output is. The choice in
api/audio/encode.py rests on this table. Run:
    python -m benchmarks.encoding [--seconds 10] [--repeats 7] [--json PATH]
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import statistics
import subprocess
import tempfile
import time
import wave
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from api.audio.decode import decode_audio
from api.audio.encode import AudioFormat, encode_audio
from benchmarks.report import write_json

RATE = 24_000  # what Qwen3-TTS's 12 Hz codec emits
# Settings shared by every candidate of a format, so that only the method differs.
MP3_BITRATE = "64k"
OPUS_RATE, OPUS_BITRATE = 16_000, "24k"  # the WhatsApp voice-note profile (see api/audio/encode.py)
SF_MP3_LEVEL = 0.6  # libsndfile maps compression_level to CBR bitrate: 0.6 gives 64 kbps at 24 kHz
SF_OPUS_LEVEL = 0.92  # about 24-28 kbps; libsndfile cannot set the Opus bitrate or application directly

Encoder = Callable[[np.ndarray], bytes]


def speech_like(seconds: float, rate: int = RATE, seed: int = 0) -> np.ndarray:
    """Voiced syllables (harmonics of a gliding pitch), noise bursts and pauses: codecs work as on speech."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    f0 = 140 + 40 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 25))
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) * (np.sin(2 * np.pi * 0.3 * t) > -0.6)
    fricative = rng.standard_normal(t.size) * (np.sin(2 * np.pi * 1.3 * t) > 0.8)
    signal = 0.25 * voiced * syllables + 0.05 * fricative + 0.003 * rng.standard_normal(t.size)
    return np.clip(signal, -1, 1).astype(np.float32)


def pcm16(samples: np.ndarray) -> bytes:
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def numpy_wav(samples: np.ndarray) -> bytes:
    data = pcm16(samples)
    header = b"RIFF" + (36 + len(data)).to_bytes(4, "little") + b"WAVEfmt "
    fmt = np.array([16, 1 | (1 << 16), RATE, RATE * 2, 2 | (16 << 16)], dtype="<u4").tobytes()
    return header + fmt + b"data" + len(data).to_bytes(4, "little") + data


def stdlib_wav(samples: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm16(samples))
    return buf.getvalue()


def soundfile_encoder(fmt: str, subtype: str, level: float | None = None, mode: str | None = None) -> Encoder:
    def encode(samples: np.ndarray) -> bytes:
        buf = io.BytesIO()
        sf.write(buf, samples, RATE, format=fmt, subtype=subtype, compression_level=level, bitrate_mode=mode)
        return buf.getvalue()

    return encode


def ffmpeg_encoder(*out_args: str) -> Encoder:
    def encode(samples: np.ndarray) -> bytes:
        cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "f32le", "-ar", str(RATE), "-ac", "1"]
        cmd += ["-i", "pipe:0", *out_args, "pipe:1"]
        pcm = samples.astype("<f4").tobytes()
        return subprocess.run(cmd, input=pcm, capture_output=True, check=True).stdout

    return encode


def pydub_encoder(fmt: str, codec: str | None = None, parameters: list[str] | None = None) -> Encoder:
    from pydub import AudioSegment  # imported late: pydub warns at import when ffmpeg is missing

    def encode(samples: np.ndarray) -> bytes:
        segment = AudioSegment(data=pcm16(samples), sample_width=2, frame_rate=RATE, channels=1)
        buf = io.BytesIO()
        segment.export(buf, format=fmt, codec=codec, parameters=parameters)
        return buf.getvalue()

    return encode


OPUS_ARGS = ["-ar", str(OPUS_RATE), "-c:a", "libopus", "-application", "voip", "-b:a", OPUS_BITRATE]


def chosen(fmt: AudioFormat) -> Encoder:
    """What the API runs, to check that it costs what its chosen candidate costs."""
    return lambda samples: encode_audio(samples, RATE, fmt)


def candidates() -> dict[str, dict[str, Encoder]]:
    return {
        "wav": {
            "numpy header (in-process)": numpy_wav,
            "stdlib wave (in-process)": stdlib_wav,
            "soundfile (in-process)": soundfile_encoder("WAV", "PCM_16"),
            "pydub export (stdlib wave)": pydub_encoder("wav"),
            "ffmpeg pipe": ffmpeg_encoder("-c:a", "pcm_s16le", "-f", "wav"),
            "api encode_audio (chosen)": chosen(AudioFormat.WAV),
        },
        "mp3": {
            "soundfile lame CBR 64k (in-process)": soundfile_encoder("MP3", "MPEG_LAYER_III", SF_MP3_LEVEL, "CONSTANT"),
            "ffmpeg pipe libmp3lame 64k": ffmpeg_encoder("-c:a", "libmp3lame", "-b:a", MP3_BITRATE, "-f", "mp3"),
            "pydub export (ffmpeg, temp files)": pydub_encoder("mp3", "libmp3lame", ["-b:a", MP3_BITRATE]),
            "api encode_audio (chosen)": chosen(AudioFormat.MP3),
        },
        # ogg and opus are the same bytes (Ogg Opus), so they share one set of candidates.
        "ogg|opus": {
            "soundfile opus 24 kHz (in-process)": soundfile_encoder("OGG", "OPUS", SF_OPUS_LEVEL),
            "ffmpeg pipe libopus 16k voip": ffmpeg_encoder(*OPUS_ARGS, "-f", "ogg"),
            "ffmpeg pipe libopus 16k voip cl5": ffmpeg_encoder(*OPUS_ARGS, "-compression_level", "5", "-f", "ogg"),
            "pydub export (ffmpeg, temp files)": pydub_encoder("ogg", "libopus", OPUS_ARGS),
            "api encode_audio (chosen)": chosen(AudioFormat.OGG),
        },
    }


@dataclass
class Row:
    format: str
    method: str
    median_ms: float
    ms_per_audio_second: float
    ratio_to_fastest: float
    bytes_per_audio_second: float
    decoded_seconds: float  # length after decode_audio (libsndfile, else ffmpeg): encoder padding shows here
    probe: str


def ffprobe(data: bytes) -> str:
    """`container/codec/channels ch/duration s` as ffprobe reads it, or why it could not."""
    if shutil.which("ffprobe") is None:
        return "ffprobe missing"
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        entries = "format=format_name,duration:stream=codec_name,channels"
        out = subprocess.run(
            ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", f.name],
            capture_output=True,
            text=True,
        )
    info = json.loads(out.stdout or "{}")
    if not info.get("streams"):
        return f"unreadable: {out.stderr.strip()[:60]}"
    stream, fmt = info["streams"][0], info["format"]
    return f"{fmt['format_name']}/{stream['codec_name']}/{stream['channels']}ch/{float(fmt['duration']):.3f}s"


def measure(samples: np.ndarray, repeats: int) -> list[Row]:
    """Round-robin within a format, so that machine-wide drift hits every candidate alike."""
    seconds = samples.size / RATE
    rows: list[Row] = []
    for fmt, methods in candidates().items():
        outputs = {name: encode(samples) for name, encode in methods.items()}  # warm-up, and the output
        times: dict[str, list[float]] = {name: [] for name in methods}
        for _ in range(repeats):
            for name, encode in methods.items():
                start = time.perf_counter()
                encode(samples)
                times[name].append(time.perf_counter() - start)
        medians = {name: statistics.median(t) * 1000 for name, t in times.items()}
        fastest = min(medians.values())
        for name, data in outputs.items():
            median = medians[name]
            decoded = decode_audio(data).duration_seconds
            row = Row(fmt, name, median, median / seconds, median / fastest, len(data) / seconds, decoded, "")
            row.probe = ffprobe(data)
            rows.append(row)
    return rows


def print_table(rows: list[Row], seconds: float, repeats: int) -> None:
    print(f"{seconds:g} s of {RATE} Hz speech-like mono float32, median of {repeats} runs")
    head = f"{'format':9} {'method':37} {'ms/call':>8} {'ms/s audio':>10} {'x fastest':>9} {'bytes/s':>8}"
    head += f" {'decoded s':>9}  ffprobe: container/codec/channels/duration"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r.format:9} {r.method:37} {r.median_ms:8.2f} {r.ms_per_audio_second:10.3f} "
            f"{r.ratio_to_fastest:9.1f} {r.bytes_per_audio_second:8.0f} {r.decoded_seconds:9.3f}  {r.probe}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the rows as JSON to this path")
    args = parser.parse_args()
    if shutil.which("ffmpeg") is None:
        raise SystemExit("ffmpeg is not installed: apt-get install -y ffmpeg")
    samples = speech_like(args.seconds)
    rows = measure(samples, args.repeats)
    print_table(rows, args.seconds, args.repeats)
    if args.json:
        meta = {"seconds": args.seconds, "rate": RATE, "repeats": args.repeats}
        write_json(args.json, {**meta, "rows": [asdict(r) for r in rows]})


if __name__ == "__main__":
    main()
