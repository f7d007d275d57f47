import io
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from api.audio.decode import DecodedAudio, decode_audio
from api.audio.encode import AudioFormat, encode_audio
from api.errors import BadRequestError, PayloadTooLargeError

RATE = 24_000
needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg is not installed")


def tone(seconds: float = 1.0, rate: int = RATE, freq: float = 330.0) -> np.ndarray:
    return (0.4 * np.sin(2 * np.pi * freq * np.arange(int(seconds * rate)) / rate)).astype(np.float32)


def soundfile_bytes(samples: np.ndarray, rate: int, fmt: str, subtype: str | None = None) -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, rate, format=fmt, subtype=subtype)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "subtype", "rate"),
    [("WAV", "PCM_16", 16_000), ("WAV", "FLOAT", 44_100), ("FLAC", None, 22_050), ("OGG", "VORBIS", 48_000)],
)
def test_soundfile_formats_decode_at_their_own_rate(fmt, subtype, rate):
    decoded = decode_audio(soundfile_bytes(tone(1.0, rate), rate, fmt, subtype))
    assert decoded.sample_rate == rate  # no resampling here: the engine does it once
    assert decoded.samples.dtype == np.float32 and decoded.samples.ndim == 1
    assert decoded.duration_seconds == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize("fmt", [AudioFormat.MP3, AudioFormat.OGG])
def test_our_own_mp3_and_ogg_opus_decode(fmt):
    decoded = decode_audio(encode_audio(tone(2.0), RATE, fmt))
    assert decoded.duration_seconds == pytest.approx(2.0, abs=0.06)
    assert 0.3 < np.abs(decoded.samples).max() < 0.5


def test_stereo_is_averaged_to_mono():
    left, right = np.full(4_800, 0.6, np.float32), np.full(4_800, 0.2, np.float32)
    decoded = decode_audio(soundfile_bytes(np.stack([left, right], axis=1), RATE, "WAV", "FLOAT"))
    assert decoded.samples.shape == (4_800,)
    np.testing.assert_allclose(decoded.samples, 0.4, atol=1e-6)


def test_decoded_audio_knows_its_duration():
    assert DecodedAudio(np.zeros(12_000, np.float32), 24_000).duration_seconds == 0.5


@needs_ffmpeg
def test_m4a_from_a_phone_goes_through_ffmpeg(tmp_path):
    # Stereo AAC with the index (moov) after the audio, as phones write it: needs a seekable input.
    path = tmp_path / "voice.m4a"
    make = ["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=f=300:d=1.5:r=44100", "-ac", "2", str(path)]
    subprocess.run(make, check=True)
    decoded = decode_audio(path.read_bytes())
    assert decoded.sample_rate == 44_100 and decoded.samples.ndim == 1
    assert decoded.duration_seconds == pytest.approx(1.5, abs=0.06)
    with pytest.raises(PayloadTooLargeError):
        decode_audio(path.read_bytes(), max_seconds=1.0)  # ffmpeg stops just past the limit


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"definitely not audio " * 50,
        np.random.default_rng(7).bytes(8_000),
        b"/etc/passwd",
        # Playlists make ffmpeg open other files: refused by the demuxer whitelist, never read.
        b"#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
        b"ffconcat version 1.0\nfile '/etc/passwd'\n",
    ],
    ids=["empty", "text", "random", "path", "hls", "concat"],
)
def test_what_is_not_audio_is_a_bad_request(data):
    with pytest.raises(BadRequestError, match="does not decode as audio") as err:
        decode_audio(data)
    assert err.value.status_code == 400


def test_a_valid_file_without_samples_is_a_bad_request():
    with pytest.raises(BadRequestError, match="no audio samples"):
        decode_audio(soundfile_bytes(np.zeros((0, 1), np.float32), RATE, "WAV"))


def test_audio_longer_than_the_limit_is_refused_from_the_header():
    with pytest.raises(PayloadTooLargeError, match="longer than the 1 s"):
        decode_audio(soundfile_bytes(tone(2.0), RATE, "WAV"), max_seconds=1.0)
