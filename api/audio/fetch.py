"""Download reference audio from a client-given URL, within a size cap and a deadline.

Only http and https, checked again on every redirect hop (a redirect to file:// or ftp:// is as bad
as asking for it). A URL the client gave that fails (404, timeout, refused) is the client's
problem: 400 naming the host. `_check_target` is the one place every URL passes through before any
connection: the SSRF guard (refusing private and loopback addresses) belongs there.
"""

from __future__ import annotations

import asyncio

import httpx

from api.errors import BadRequestError, PayloadTooLargeError, ValidationFailed

FIELD = "ref_audio_url"
MAX_REDIRECTS = 3
_SCHEMES = ("http", "https")
_HEADERS = {"Accept": "audio/*, application/octet-stream;q=0.8, */*;q=0.5", "User-Agent": "qwen3-tts-api"}


async def fetch_audio_bytes(
    url: str, *, max_bytes: int, timeout_seconds: float, client: httpx.AsyncClient | None = None
) -> bytes:
    """The body at `url`: 422 for a URL we will not fetch, 413 past `max_bytes`, 400 if fetching fails.

    `timeout_seconds` bounds each connect/read and also the whole download, redirects included, so a
    server dribbling one byte at a time cannot hold a request forever.
    """
    target = _check_target(url)
    own_client = client is None
    http = client or httpx.AsyncClient()
    try:
        async with asyncio.timeout(timeout_seconds):
            return await _follow(http, target, max_bytes, httpx.Timeout(timeout_seconds))
    except TimeoutError as exc:  # httpx's own timeouts are mapped in _follow
        raise _failed(target, f"did not answer within {timeout_seconds:g} s") from exc
    finally:
        if own_client:
            await http.aclose()


async def _follow(http: httpx.AsyncClient, target: httpx.URL, max_bytes: int, timeout: httpx.Timeout) -> bytes:
    for _ in range(MAX_REDIRECTS + 1):
        try:
            async with http.stream(
                "GET", target, headers=_HEADERS, timeout=timeout, follow_redirects=False
            ) as response:
                if response.is_redirect:
                    target = _redirect_target(target, response.headers["location"])
                    continue
                if not response.is_success:
                    raise _failed(target, f"answered HTTP {response.status_code}")
                return await _read_capped(response, target, max_bytes)
        except httpx.TimeoutException as exc:
            raise _failed(target, f"timed out after {timeout.read:g} s") from exc
        except httpx.HTTPError as exc:  # DNS failure, refused connection, TLS error, broken body
            raise _failed(target, f"could not be fetched ({type(exc).__name__})") from exc
    raise _failed(target, f"redirected more than {MAX_REDIRECTS} times")


async def _read_capped(response: httpx.Response, target: httpx.URL, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(target, max_bytes)
    body = bytearray()
    # Counted after content decoding: a small gzip body cannot inflate past the cap either.
    async for chunk in response.aiter_bytes():
        body += chunk
        if len(body) > max_bytes:
            raise _too_large(target, max_bytes)
    return bytes(body)


def _redirect_target(current: httpx.URL, location: str) -> httpx.URL:
    try:
        joined = current.join(location)  # Location may be relative to the current URL
    except httpx.InvalidURL as exc:
        raise _failed(current, "redirected to an invalid URL") from exc
    return _check_target(str(joined), redirected=True)


def _check_target(url: str, *, redirected: bool = False) -> httpx.URL:
    """Every URL (the client's and each redirect's) passes here before we connect to it."""
    after = " (after a redirect)" if redirected else ""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, AttributeError) as exc:
        raise ValidationFailed(f"{FIELD}: not a valid URL{after}", field=FIELD) from exc
    if parsed.scheme not in _SCHEMES:
        shown = f"not '{parsed.scheme}'" if parsed.scheme else "not a path or relative URL"
        raise ValidationFailed(f"{FIELD}: only http and https URLs are allowed, {shown}{after}", field=FIELD)
    if not parsed.host:
        raise ValidationFailed(f"{FIELD}: the URL has no host{after}", field=FIELD)
    # SSRF guard goes here (later issue): resolve parsed.host and refuse private, loopback and
    # link-local addresses; pin the resolved address for the connection to defeat DNS rebinding.
    return parsed


def _failed(target: httpx.URL, what: str) -> BadRequestError:
    return BadRequestError(f"{FIELD}: the audio at {target.host} {what}", field=FIELD)


def _too_large(target: httpx.URL, max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"{FIELD}: the audio at {target.host} is larger than {max_bytes} bytes", field=FIELD)
