import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from api.audio.decode import decode_audio
from api.audio.encode import AudioFormat, encode_audio
from api.audio.fetch import fetch_audio_bytes
from api.errors import BadRequestError, PayloadTooLargeError, ValidationFailed

WAV = encode_audio(np.full(4_800, 0.25, np.float32), 24_000, AudioFormat.WAV)
CAP = 64_000


class Handler(BaseHTTPRequestHandler):
    """A tiny origin: each path is one behaviour a reference-audio URL can have."""

    def do_GET(self) -> None:
        path = self.path.split("?")[0]
        if path == "/voice.wav":
            self._send(200, WAV, {"Content-Type": "audio/wav"})
        elif path == "/big.wav":  # declares its size: refused before the body is read
            self._send(200, b"\0" * (CAP + 1))
        elif path == "/stream.wav":  # no Content-Length (HTTP/1.0, body ends at close): counted
            self.send_response(200)
            self.end_headers()
            for _ in range(100):
                self.wfile.write(b"\0" * 4_096)
        elif path == "/slow.wav":
            time.sleep(1.0)
            self._send(200, WAV)
        elif path.startswith("/hop/"):  # /hop/N redirects N times, then to the audio
            left = int(path.rsplit("/", 1)[1])
            self._send(302, b"", {"Location": f"/hop/{left - 1}" if left > 1 else "/voice.wav"})
        elif path == "/to-ftp":
            self._send(302, b"", {"Location": "ftp://example.com/voice.wav"})
        else:
            self._send(404, b"not here")

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep test output quiet
        pass


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True  # the slow handler must not hold up shutdown

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # the client hanging up mid-body (cap reached, timeout) is the point of some tests


@pytest.fixture(scope="module")
def origin() -> Iterator[str]:
    server = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def fetch(url: str, *, max_bytes: int = CAP, timeout: float = 5.0) -> bytes:
    return asyncio.run(fetch_audio_bytes(url, max_bytes=max_bytes, timeout_seconds=timeout))


def test_a_wav_is_fetched_whole_and_decodes(origin):
    data = fetch(f"{origin}/voice.wav")
    assert data == WAV
    assert decode_audio(data).duration_seconds == pytest.approx(0.2)


def test_redirects_are_followed_up_to_three(origin):
    assert fetch(f"{origin}/hop/3") == WAV
    with pytest.raises(BadRequestError, match="redirected more than 3 times"):
        fetch(f"{origin}/hop/4")


def test_a_declared_size_over_the_cap_is_413(origin):
    with pytest.raises(PayloadTooLargeError, match=r"127\.0\.0\.1 is larger than 64000 bytes") as err:
        fetch(f"{origin}/big.wav")
    assert err.value.field == "ref_audio_url"


def test_an_undeclared_body_stops_as_soon_as_it_passes_the_cap(origin):
    with pytest.raises(PayloadTooLargeError):
        fetch(f"{origin}/stream.wav", max_bytes=10_000)
    assert len(fetch(f"{origin}/stream.wav", max_bytes=500_000)) == 409_600


def test_a_404_is_the_clients_problem_and_names_host_and_status(origin):
    with pytest.raises(BadRequestError, match=r"127\.0\.0\.1 answered HTTP 404") as err:
        fetch(f"{origin}/missing.wav")
    assert err.value.status_code == 400


def test_a_slow_server_times_out_as_a_bad_request(origin):
    started = time.monotonic()
    with pytest.raises(BadRequestError, match=r"127\.0\.0\.1 timed out|127\.0\.0\.1 did not answer"):
        fetch(f"{origin}/slow.wav", timeout=0.3)
    assert time.monotonic() - started < 0.9


def test_a_refused_connection_is_a_bad_request():
    with pytest.raises(BadRequestError, match="could not be fetched"):
        fetch("http://127.0.0.1:9/voice.wav")  # discard port: nothing listens


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "/etc/passwd",
        "ftp://example.com/voice.wav",
        "gopher://x/",
        "http://",
        "not a url",
    ],
)
def test_only_http_and_https_urls_are_fetched(url):
    with pytest.raises(ValidationFailed) as err:
        fetch(url)
    assert err.value.status_code == 422 and err.value.field == "ref_audio_url"


def test_a_redirect_to_another_scheme_is_refused(origin):
    with pytest.raises(ValidationFailed, match="not 'ftp' \\(after a redirect\\)"):
        fetch(f"{origin}/to-ftp")
