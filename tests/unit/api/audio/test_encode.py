import json
import shutil
import struct
import subprocess

import numpy as np
import pytest

from api.audio.decode import decode_audio
from api.audio.encode import MEDIA_TYPES, OPUS_RATE, AudioFormat, encode_audio, parse_audio_format
from api.audio.stream import StreamFormat
from api.errors import ValidationFailed

RATE = 24_000
needs_ffprobe = pytest.mark.skipif(shutil.which("ffprobe") is None, reason="ffprobe is not installed")


def speech_like(seconds: float = 1.5, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    voiced = sum(np.sin(2 * np.pi * 150 * k * t) / k for k in range(1, 12))
    return (0.3 * voiced * np.clip(np.sin(2 * np.pi * 4 * t), 0.1, None)).astype(np.float32)


def ffprobe(data: bytes, tmp_path) -> dict:
    path = tmp_path / "probe"
    path.write_bytes(data)
    entries = "format=format_name:stream=codec_name,channels,sample_rate,bit_rate"
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", entries, "-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    info = json.loads(out.stdout)
    return {"container": info["format"]["format_name"], **info["streams"][0]}


@pytest.fixture(scope="module")
def encoded() -> dict[AudioFormat, bytes]:
    samples = speech_like()
    return {fmt: encode_audio(samples, RATE, fmt) for fmt in AudioFormat}


@pytest.mark.parametrize("fmt", list(AudioFormat))
def test_every_format_decodes_back_mono_with_the_same_duration(encoded, fmt):
    decoded = decode_audio(encoded[fmt])
    assert decoded.samples.ndim == 1 and decoded.samples.dtype == np.float32
    assert abs(decoded.duration_seconds - 1.5) <= 0.060
    assert np.abs(decoded.samples).max() > 0.05  # sound, not silence


@needs_ffprobe
@pytest.mark.parametrize(
    ("fmt", "container", "codec"),
    [
        (AudioFormat.WAV, "wav", "pcm_s16le"),
        (AudioFormat.MP3, "mp3", "mp3"),
        (AudioFormat.OGG, "ogg", "opus"),
        (AudioFormat.OPUS, "ogg", "opus"),
    ],
)
def test_ffprobe_sees_the_expected_container_codec_and_one_channel(encoded, tmp_path, fmt, container, codec):
    info = ffprobe(encoded[fmt], tmp_path)
    assert (info["container"], info["codec_name"], info["channels"]) == (container, codec, 1)


@needs_ffprobe
def test_mp3_is_64_kbps_cbr_at_the_input_rate(encoded, tmp_path):
    info = ffprobe(encoded[AudioFormat.MP3], tmp_path)
    assert info["sample_rate"] == str(RATE) and info["bit_rate"] == "64000"


def test_ogg_and_opus_are_whatsapp_voice_note_ogg_opus(encoded):
    data = encoded[AudioFormat.OGG]
    assert data == encoded[AudioFormat.OPUS]
    # RFC 7845: the first Ogg page holds OpusHead (version, channels, pre-skip, input rate, ...).
    assert data[:4] == b"OggS"
    head = data[data.index(b"OpusHead") :]
    _version, channels, _preskip, input_rate = struct.unpack("<BBHI", head[8:16])
    assert (channels, input_rate) == (1, OPUS_RATE)
    assert b"Lavf5" not in data[:400]  # bitexact: no ffmpeg version in the tags
    assert len(data) / 1.5 < 4_000  # about 24 kbps: minutes of speech stay under WhatsApp's 512 KB


def test_out_of_range_samples_are_clipped_not_wrapped():
    loud = np.full(2_400, 3.0, dtype=np.float32)
    loud[:1200] = np.nan
    decoded = decode_audio(encode_audio(loud, RATE, AudioFormat.WAV))
    assert decoded.samples[:1200].max() == 0.0
    assert decoded.samples[1200:].min() > 0.99


def test_a_column_vector_is_mono_but_stereo_and_empty_are_refused():
    column = speech_like(0.2)[:, None]
    assert decode_audio(encode_audio(column, RATE, AudioFormat.WAV)).samples.shape == (column.shape[0],)
    with pytest.raises(ValueError, match="mono"):
        encode_audio(np.zeros((100, 2), np.float32), RATE, AudioFormat.WAV)
    with pytest.raises(ValueError, match="no samples"):
        encode_audio(np.zeros(0, np.float32), RATE, AudioFormat.MP3)


def test_format_names_parse_and_every_format_has_a_media_type():
    assert parse_audio_format(" OGG ") is AudioFormat.OGG
    assert set(MEDIA_TYPES) == set(AudioFormat) | set(StreamFormat)  # files and streams: one table
    with pytest.raises(ValidationFailed) as err:
        parse_audio_format("flac")
    assert err.value.field == "output_format" and "wav, mp3, ogg, opus" in err.value.message
