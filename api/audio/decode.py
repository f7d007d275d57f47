"""Decode reference audio (uploaded or fetched bytes) to float32 mono at its own sample rate.

libsndfile (through soundfile, in-process) reads WAV, FLAC, OGG Vorbis/Opus and MP3; whatever it
cannot read (M4A/AAC, WebM, AMR, ...) goes to ffmpeg. No resampling here: the engine resamples to
what the model expects, once. The input is always bytes, never a path the client chose.

All functions block (CPU or a subprocess): call them from async code via `asyncio.to_thread`.
"""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from api.errors import BadRequestError, PayloadTooLargeError

log = logging.getLogger(__name__)

# Bounds memory and CPU whatever the caller's own limit: 10 min of 48 kHz stereo is 230 MB of float32.
MAX_DECODED_SECONDS = 600.0
_FFMPEG_TIMEOUT_S = 60.0
# Demuxers ffmpeg may pick for untrusted bytes. Playlist-like ones (hls, concat, ...) are left out:
# they open other files or URLs, which would let an upload read the server's files.
_FFMPEG_DEMUXERS = "wav,flac,ogg,mp3,mov,matroska,aac,amr,caf,aiff,w64"
_SUPPORTED = "WAV, FLAC, MP3, OGG (Vorbis/Opus), M4A/AAC, WebM"


@dataclass(frozen=True)
class DecodedAudio:
    samples: np.ndarray  # float32, mono (1-D)
    sample_rate: int

    @property
    def duration_seconds(self) -> float:
        return self.samples.shape[0] / self.sample_rate


class _NotForLibsndfile(Exception):
    """libsndfile cannot read the bytes (unknown format, or a body it chokes on): ffmpeg gets a try."""


def decode_audio(data: bytes, *, max_seconds: float = MAX_DECODED_SECONDS) -> DecodedAudio:
    """Decode any supported container; 400 if it is not audio or is empty, 413 past `max_seconds`."""
    if not data:
        raise _undecodable("the file is empty")
    try:
        frames, sample_rate = _read_soundfile(data, max_seconds)
    except _NotForLibsndfile:
        frames, sample_rate = _read_ffmpeg(data, max_seconds)
    if frames.shape[0] == 0 or sample_rate <= 0:
        raise _undecodable("it contains no audio samples")
    if frames.shape[0] > max_seconds * sample_rate:
        raise _too_long(max_seconds)
    # Plain average of the channels: what a listener hears from a mono speaker, and no clipping.
    mono = frames.mean(axis=1, dtype=np.float32) if frames.shape[1] > 1 else frames[:, 0]
    if not np.isfinite(mono).all():
        raise _undecodable("it decodes to invalid (NaN or infinite) samples")
    return DecodedAudio(samples=np.ascontiguousarray(mono, dtype=np.float32), sample_rate=int(sample_rate))


def _read_soundfile(data: bytes, max_seconds: float) -> tuple[np.ndarray, int]:
    try:
        with sf.SoundFile(io.BytesIO(data)) as handle:
            # The header tells the length: refuse a decompression bomb before allocating for it.
            if handle.frames > max_seconds * handle.samplerate:
                raise _too_long(max_seconds)
            frames = handle.read(dtype="float32", always_2d=True)
            sample_rate = handle.samplerate
    except (sf.SoundFileError, RuntimeError) as exc:
        raise _NotForLibsndfile from exc
    if frames.shape[0] == 0:  # libsndfile misreads some streams as empty; ffmpeg is more tolerant
        raise _NotForLibsndfile
    return frames, sample_rate


def _read_ffmpeg(data: bytes, max_seconds: float) -> tuple[np.ndarray, int]:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        log.warning("ffmpeg is not installed: only formats libsndfile reads can be decoded")
        raise _undecodable("the format is not recognised")
    # A file, not a pipe: MP4/M4A from phones often put their index (moov) after the audio, and
    # ffmpeg must seek back to reach it. The only protocol allowed is reading this one file.
    with tempfile.TemporaryDirectory(prefix="ref-audio-") as tmp:
        source = Path(tmp) / "input"
        source.write_bytes(data)
        command = [
            ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin",
            "-protocol_whitelist", "file", "-format_whitelist", _FFMPEG_DEMUXERS,
            "-i", str(source), "-map", "0:a:0", "-vn", "-sn", "-dn",
            # One sample past the limit is enough to know it is too long, and bounds the output.
            "-t", f"{max_seconds + 0.1:.3f}", "-c:a", "pcm_f32le", "-f", "wav", "pipe:1",
        ]  # fmt: skip
        try:
            done = subprocess.run(command, capture_output=True, timeout=_FFMPEG_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            raise _undecodable(f"decoding took longer than {_FFMPEG_TIMEOUT_S:.0f} s") from exc
    if done.returncode != 0:
        log.info("ffmpeg could not decode reference audio: %s", done.stderr.decode(errors="replace")[-500:])
        raise _undecodable("the format is not recognised or the file is corrupt")
    try:
        # ffmpeg cannot patch the WAV sizes on a pipe; libsndfile reads such a stream to its end.
        frames, sample_rate = sf.read(io.BytesIO(done.stdout), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError) as exc:
        raise _undecodable("it contains no audio stream") from exc
    return frames, int(sample_rate)


def _undecodable(reason: str) -> BadRequestError:
    return BadRequestError(f"the reference audio does not decode as audio: {reason} (supported: {_SUPPORTED})")


def _too_long(max_seconds: float) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"the reference audio is longer than the {max_seconds:g} s allowed")


# Leading bytes of the formats a reference may be stored in -> the media type a browser plays it as.
_SIGNATURES = (
    (b"RIFF", "audio/wav"),
    (b"fLaC", "audio/flac"),
    (b"OggS", "audio/ogg"),
    (b"ID3", "audio/mpeg"),
    (b"\x1a\x45\xdf\xa3", "audio/webm"),
)


def media_type(data: bytes) -> str:
    """The media type of stored reference bytes, from their signature (octet-stream when unknown)."""
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            return kind
    if len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0:  # an MPEG audio frame header
        return "audio/mpeg"
    if data[4:8] == b"ftyp":
        return "audio/mp4"
    return "application/octet-stream"
