"""Encode generated speech (float32 mono) to the contract's output formats: wav, mp3, ogg, opus.

Method per format, chosen with `python -m benchmarks.encoding --repeats 15`: 10 s of 24 kHz
speech-like audio, median ms of encoding per second of audio (2-core x86 VM under some load, so
+-10%; ffmpeg 5.1 from Debian 12, libsndfile 1.2.2 bundled with soundfile 0.14):

    wav       stdlib wave, in-process         0.04 ms/s  (soundfile 0.34; ffmpeg pipe 13.9, 316x)
    mp3       soundfile (libsndfile + LAME)   14.3 ms/s  (ffmpeg pipe 19.0; pydub 19.9)
    ogg/opus  ffmpeg pipe (libopus)           30.7 ms/s  (soundfile 60.7; pydub 29.6)

Why not one method for all: starting ffmpeg costs 100-130 ms per call before it encodes anything,
so what libsndfile encodes well stays in-process. For MP3 libsndfile is also the more correct
choice: it writes the LAME/Info header (encoder delay and padding), which ffmpeg cannot write to a
pipe; without it the 10 s decode to 10.056 s. libsndfile's Opus encoder was twice as slow as
ffmpeg's and can neither resample to 16 kHz nor set the application or an exact bitrate. pydub
only wraps ffmpeg, with two temporary files. libopus complexity 5 would save about 7 ms/s (23.1):
kept at the default 10, as voice-note quality matters more than that.

ogg and opus are the same bytes: Ogg Opus (RFC 7845; .opus files are Ogg Opus by definition).
The profile is WhatsApp's voice note: mono, 16 kHz input (what WhatsApp's own recordings carry in
OpusHead; clients have been reported to refuse 48 kHz), the `voip` application tuned for speech,
24 kbps VBR in 20 ms frames. WhatsApp shows a play button only up to 512 KB: about 170 s here.

All functions block (CPU or a subprocess): call them from async code via `asyncio.to_thread`.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from enum import StrEnum

import numpy as np
import soundfile as sf

from api.errors import UnavailableError, ValidationFailed


class AudioFormat(StrEnum):
    WAV = "wav"
    MP3 = "mp3"
    OGG = "ogg"
    OPUS = "opus"


MEDIA_TYPES: dict[str, str] = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    # RFC 7845 section 9: Ogg Opus is audio/ogg; the codecs parameter tells it from Ogg Vorbis.
    "ogg": "audio/ogg; codecs=opus",
    "opus": "audio/ogg; codecs=opus",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "pcm": "audio/pcm",
}
"""The media type of every format by its name: whole files (AudioFormat) and streams (api/audio/stream.py)."""

MP3_KBPS = 64  # speech at 24 kHz is transparent well below this; CBR keeps sizes predictable
OPUS_RATE = 16_000
OPUS_BITRATE = "24k"
_FFMPEG_TIMEOUT_S = 120.0
# libsndfile maps compression_level 0..1 linearly onto the bitrates of the MPEG version that the
# sample rate implies (highest to lowest); it has no "set bitrate" call.
_MP3_KBPS_RANGES = {1: (32, 320), 2: (8, 160), 25: (8, 64)}


def parse_audio_format(value: str, *, field: str = "output_format") -> AudioFormat:
    """The format named by a request field, or 422 listing the accepted names."""
    try:
        return AudioFormat(value.strip().lower())
    except ValueError:
        allowed = ", ".join(f.value for f in AudioFormat)
        raise ValidationFailed(f"{field}: unknown audio format '{value}' (use {allowed})", field=field) from None


def encode_audio(samples: np.ndarray, sample_rate: int, fmt: AudioFormat) -> bytes:
    """`samples`: float32 mono in [-1, 1] (clipped, NaN as silence) at `sample_rate` Hz."""
    mono = _prepare(samples, sample_rate)
    if fmt is AudioFormat.WAV:
        return _wav(mono, sample_rate)
    if fmt is AudioFormat.MP3:
        return _mp3(mono, sample_rate)
    if fmt in (AudioFormat.OGG, AudioFormat.OPUS):
        return _ogg_opus(mono, sample_rate)
    raise ValueError(f"unsupported audio format: {fmt!r}")


def _prepare(samples: np.ndarray, sample_rate: int) -> np.ndarray:
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    mono = np.asarray(samples, dtype=np.float32)
    if mono.ndim == 2 and 1 in mono.shape:
        mono = mono.reshape(-1)
    if mono.ndim != 1:
        raise ValueError(f"expected mono samples, got shape {mono.shape}")
    if mono.size == 0:
        raise ValueError("no samples to encode")
    # A model can overshoot [-1, 1]: clipping is audible once, wrapping around in int16 is worse.
    return np.clip(np.nan_to_num(mono, nan=0.0, posinf=1.0, neginf=-1.0), -1.0, 1.0)


def _wav(mono: np.ndarray, sample_rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(np.rint(mono * 32767.0).astype("<i2").tobytes())
    return buf.getvalue()


def _mp3(mono: np.ndarray, sample_rate: int) -> bytes:
    version = 1 if sample_rate >= 32_000 else 2 if sample_rate >= 16_000 else 25
    low, high = _MP3_KBPS_RANGES[version]
    kbps = min(max(MP3_KBPS, low), high)
    buf = io.BytesIO()
    try:
        sf.write(
            buf,
            mono,
            sample_rate,
            format="MP3",
            subtype="MPEG_LAYER_III",
            compression_level=(high - kbps) / (high - low),
            bitrate_mode="CONSTANT",
        )
    except sf.LibsndfileError as exc:  # e.g. a rate MPEG audio does not define (it has nine)
        raise ValueError(f"cannot encode MP3 at {sample_rate} Hz: {exc}") from exc
    return buf.getvalue()


def _ogg_opus(mono: np.ndarray, sample_rate: int) -> bytes:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise UnavailableError("ogg/opus output needs ffmpeg, which is not installed on this server")
    command = [
        ffmpeg, "-hide_banner", "-loglevel", "error",
        "-f", "f32le", "-ar", str(sample_rate), "-ac", "1", "-i", "pipe:0",
        "-ar", str(OPUS_RATE), "-c:a", "libopus", "-application", "voip",
        "-b:a", OPUS_BITRATE, "-vbr", "on", "-frame_duration", "20",
        # No ffmpeg version in OpusTags, and the same input gives the same bytes.
        "-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact",
        "-f", "ogg", "pipe:1",
    ]  # fmt: skip
    done = subprocess.run(command, input=mono.astype("<f4").tobytes(), capture_output=True, timeout=_FFMPEG_TIMEOUT_S)
    if done.returncode != 0 or not done.stdout:
        tail = done.stderr.decode(errors="replace").strip()[-300:]
        raise RuntimeError(f"ffmpeg could not encode Ogg Opus (exit {done.returncode}): {tail}")
    return done.stdout
