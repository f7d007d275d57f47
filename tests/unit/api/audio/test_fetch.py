import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import numpy as np
import pytest

from api.audio import fetch as fetch_module
from api.audio.decode import decode_audio
from api.audio.encode import AudioFormat, encode_audio
from api.audio.fetch import fetch_audio_bytes
from api.errors import BadRequestError, PayloadTooLargeError, ValidationFailed

WAV = encode_audio(np.full(4_800, 0.25, np.float32), 24_000, AudioFormat.WAV)
CAP = 64_000


LOCAL = ("127.0.0.1",)  # the test origin is on loopback: trusted like an operator's internal host


class Handler(BaseHTTPRequestHandler):
    """A tiny origin: each path is one behaviour a reference-audio URL can have."""

    requests = 0  # every request it answered: the SSRF tests check that none reached it

    def do_GET(self) -> None:
        type(self).requests += 1
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
        elif path == "/to-metadata":
            self._send(302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"})
        elif path == "/to-other-loopback":  # loopback, but not the address the tests trust
            self._send(302, b"", {"Location": f"http://127.0.0.2:{self.server.server_address[1]}/voice.wav"})
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


def fetch(
    url: str,
    *,
    max_bytes: int = CAP,
    timeout: float = 5.0,
    allowed: tuple[str, ...] = LOCAL,
    client: httpx.AsyncClient | None = None,
) -> bytes:
    return asyncio.run(
        fetch_audio_bytes(url, max_bytes=max_bytes, timeout_seconds=timeout, allowed_hosts=allowed, client=client)
    )


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


# --- SSRF guard ---------------------------------------------------------------------------------

BLOCKED_HOSTS = [
    "127.0.0.1",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0x7f.1",
    "0177.0.0.1",  # httpx refuses it as an invalid URL: 422 all the same
    "localhost",
    "LOCALHOST",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::7f00:1]",  # IPv4-compatible
    "[64:ff9b::7f00:1]",  # NAT64
    "[64:ff9b::a9fe:a9fe]",  # NAT64 of 169.254.169.254
    "[2002:7f00:1::]",  # 6to4
    "[2001:0:4136:e378:8000:63bf:80ff:fffe]",  # Teredo, client 127.0.0.1 (obfuscated)
    "10.0.0.1",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "[::]",
    "[fe80::1%25eth0]",
    "[fc00::1]",
    "224.0.0.1",
    "[ff02::1]",
    "240.0.0.1",
    "evil@127.0.0.1",
    "evil:pw@127.0.0.1",
    "127.0.0.1.",
]


@pytest.mark.parametrize("host", BLOCKED_HOSTS)
def test_internal_addresses_are_refused_before_any_connection(origin, host):
    port = origin.rsplit(":", 1)[1]
    before = Handler.requests
    with pytest.raises(ValidationFailed, match=r"is not allowed|not a valid URL") as err:
        fetch(f"http://{host}:{port}/voice.wav", allowed=())
    assert err.value.status_code == 422 and err.value.field == "ref_audio_url"
    assert Handler.requests == before  # nothing reached the origin


def test_the_refusal_names_the_host_but_not_what_it_resolved_to(monkeypatch):
    async def private(host: str, port: int) -> list[str]:
        return ["10.1.2.3"]

    monkeypatch.setattr(fetch_module, "_resolve", private)
    with pytest.raises(ValidationFailed) as err:
        fetch("https://intranet.example.com/voice.wav", allowed=())
    assert "intranet.example.com" in err.value.message and "10.1.2.3" not in err.value.message


@pytest.mark.parametrize(
    "addresses",
    [["10.1.2.3"], ["93.184.215.14", "169.254.169.254"], ["2606:2800:21f:cb07:6820:80da:af6b:8b2c", "::1"]],
)
def test_a_name_resolving_to_any_internal_address_is_refused(monkeypatch, addresses):
    seen = []

    async def resolver(host: str, port: int) -> list[str]:
        seen.append((host, port))
        return addresses

    monkeypatch.setattr(fetch_module, "_resolve", resolver)
    with pytest.raises(ValidationFailed, match=r"the address of audio\.example\.com\.? is not allowed"):
        fetch("https://Audio.Example.COM./voice.wav", allowed=())
    assert seen == [("audio.example.com", 443)]  # lower case, no trailing dot


def test_the_connection_goes_to_exactly_the_checked_address(monkeypatch):
    """DNS rebinding: the name is resolved once; the request is sent to that address, not the name."""
    answers = iter([["93.184.215.14"], ["127.0.0.1"]])  # a second lookup would rebind to loopback

    async def rebinding(host: str, port: int) -> list[str]:
        return next(answers)

    sent: list[httpx.Request] = []

    def transport(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, content=WAV)

    monkeypatch.setattr(fetch_module, "_resolve", rebinding)
    client = httpx.AsyncClient(transport=httpx.MockTransport(transport))
    assert fetch("https://audio.example.com:8443/v.wav?x=1", allowed=(), client=client) == WAV
    (request,) = sent
    assert request.url == httpx.URL("https://93.184.215.14:8443/v.wav?x=1")
    assert request.headers["host"] == "audio.example.com:8443"
    assert request.extensions["sni_hostname"] == "audio.example.com"  # TLS checks the name's certificate


@pytest.mark.parametrize(
    ("address", "connected"),
    [
        ("93.184.215.14", "93.184.215.14"),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", "[2606:2800:21f:cb07:6820:80da:af6b:8b2c]"),
        ("64:ff9b::5db8:d70e", "[64:ff9b::5db8:d70e]"),  # NAT64 of a public address
        ("2002:5db8:d70e::", "[2002:5db8:d70e::]"),  # 6to4 of a public address
        ("::ffff:93.184.215.14", "[::ffff:5db8:d70e]"),  # IPv4-mapped public address
    ],
)
def test_public_addresses_and_their_ipv6_forms_are_fetched(monkeypatch, address, connected):
    async def public(host: str, port: int) -> list[str]:
        return [address]

    sent: list[httpx.URL] = []

    def transport(request: httpx.Request) -> httpx.Response:
        sent.append(request.url)
        return httpx.Response(200, content=WAV)

    monkeypatch.setattr(fetch_module, "_resolve", public)
    client = httpx.AsyncClient(transport=httpx.MockTransport(transport))
    assert fetch("http://audio.example.com/v.wav", allowed=(), client=client) == WAV
    assert [str(url) for url in sent] == [f"http://{connected}/v.wav"]


def test_the_checked_address_is_what_the_real_transport_connects_to(monkeypatch, origin):
    """Through httpx's own transport: a name that 'resolves' to the origin's address reaches it."""

    async def to_origin(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    monkeypatch.setattr(fetch_module, "_resolve", to_origin)
    port = origin.rsplit(":", 1)[1]
    assert fetch(f"http://audio.invalid:{port}/voice.wav") == WAV  # .invalid never resolves for real


def test_a_redirect_to_an_internal_address_is_refused(origin):
    with pytest.raises(ValidationFailed, match=r"169\.254\.169\.254 is not allowed .*\(after a redirect\)"):
        fetch(f"{origin}/to-metadata")
    before = Handler.requests
    with pytest.raises(ValidationFailed, match=r"127\.0\.0\.2 is not allowed"):
        fetch(f"{origin}/to-other-loopback")
    assert Handler.requests == before + 1  # the redirect itself, not the hop it pointed to


def test_the_allowlist_lets_trusted_hosts_and_networks_through(origin):
    port = origin.rsplit(":", 1)[1]
    assert fetch(f"http://127.0.0.1:{port}/voice.wav", allowed=("127.0.0.1",)) == WAV
    assert fetch(f"http://127.1:{port}/voice.wav", allowed=("127.0.0.0/8",)) == WAV
    with pytest.raises(ValidationFailed):
        fetch(f"http://127.0.0.1:{port}/voice.wav", allowed=("10.0.0.0/8", "other.internal"))


def test_the_allowlist_trusts_a_name(monkeypatch, origin):
    async def to_origin(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    monkeypatch.setattr(fetch_module, "_resolve", to_origin)
    port = origin.rsplit(":", 1)[1]
    assert fetch(f"http://minio.internal:{port}/voice.wav", allowed=("MINIO.internal.",)) == WAV


def test_a_name_that_does_not_resolve_is_a_bad_request():
    with pytest.raises(BadRequestError, match=r"audio\.invalid could not be resolved"):
        fetch("http://audio.invalid/voice.wav", allowed=())


@pytest.mark.parametrize("url", ["file:///etc/passwd", "/etc/passwd", "file://localhost/etc/passwd", "~/.ssh/id_rsa"])
def test_local_files_are_never_opened(url):
    with pytest.raises(ValidationFailed, match="only http and https"):
        fetch(url)
