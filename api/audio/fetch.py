"""Download reference audio from a client-given URL, within a size cap and a deadline.

Only http and https, checked again on every redirect hop (a redirect to file:// or ftp:// is as bad
as asking for it). A URL the client gave that fails (404, timeout, refused) is the client's
problem: 400 naming the host. `_check_target` is the one place every URL passes through before any
connection, and it is the SSRF guard: it resolves the host and refuses it (422) when any address is
internal (loopback, private, link-local, cloud metadata, CGNAT, multicast, reserved, or an IPv6 form
wrapping one of those), unless the operator trusts it in `fetch_allowed_hosts`. The connection then
goes to exactly the address that was checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import httpx

from api.errors import BadRequestError, PayloadTooLargeError, ValidationFailed

FIELD = "ref_audio_url"
MAX_REDIRECTS = 3
_SCHEMES = ("http", "https")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_HEADERS = {"Accept": "audio/*, application/octet-stream;q=0.8, */*;q=0.5", "User-Agent": "qwen3-tts-api"}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_CGNAT = ipaddress.IPv4Network("100.64.0.0/10")  # shared address space (RFC 6598): not is_private in 3.11
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # well-known NAT64 prefix (RFC 6052): IPv4 in the low 32 bits
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")  # local-use NAT64 (RFC 8215): an operator's own
_IPV4_COMPATIBLE = ipaddress.IPv6Network("::/96")  # deprecated IPv4-compatible form (::a.b.c.d)


@dataclass(frozen=True)
class _Target:
    """A checked URL and the address it resolved to, which is the one we connect to."""

    url: httpx.URL
    address: str

    @property
    def is_literal(self) -> bool:
        return _literal(_host_of(self.url)) is not None

    def request_url(self) -> httpx.URL:
        """`url` with its host replaced by the checked address (unchanged for an IP literal)."""
        if self.is_literal:
            return self.url
        return self.url.copy_with(host=self.address.replace("%", "%25"))  # a zone id, percent-encoded

    def headers(self) -> dict[str, str]:
        return {**_HEADERS, "Host": self.url.netloc.decode("ascii")}

    def extensions(self) -> dict[str, Any]:
        # TLS: SNI and the certificate check use the name, not the address we connect to.
        return {"sni_hostname": _host_of(self.url)} if self.url.scheme == "https" and not self.is_literal else {}


class _Allowlist:
    """`fetch_allowed_hosts`: host names (matched exactly) and IP addresses or CIDR networks."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.names: set[str] = set()
        self.networks: list[IPNetwork] = []
        for entry in entries:
            value = entry.strip().lower().rstrip(".")
            try:
                self.networks.append(ipaddress.ip_network(value.strip("[]"), strict=False))
            except ValueError:
                if value:
                    self.names.add(value)

    def allows(self, host: str, address: IPAddress) -> bool:
        if host in self.names:
            return True
        candidates = [address]
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            candidates.append(address.ipv4_mapped)  # ::ffff:a.b.c.d reaches a.b.c.d itself
        return any(candidate in network for candidate in candidates for network in self.networks)


async def fetch_audio_bytes(
    url: str,
    *,
    max_bytes: int,
    timeout_seconds: float,
    allowed_hosts: Iterable[str] = (),
    client: httpx.AsyncClient | None = None,
) -> bytes:
    """The body at `url`: 422 for a URL we will not fetch, 413 past `max_bytes`, 400 if fetching fails.

    `timeout_seconds` bounds each connect/read and also the whole download, redirects and name
    resolution included, so a server dribbling one byte at a time cannot hold a request forever.
    `allowed_hosts` (settings.fetch_allowed_hosts) are internal hosts or CIDRs trusted despite the
    SSRF guard.
    """
    allow = _Allowlist(allowed_hosts)
    own_client = client is None
    # No keep-alive: a TLS connection verified for one name is never reused for another name that
    # resolved to the same address (the pool knows only the address).
    http = client or httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0))
    try:
        async with asyncio.timeout(timeout_seconds):
            target = await _check_target(url, allow)
            return await _follow(http, target, allow, max_bytes, httpx.Timeout(timeout_seconds))
    except TimeoutError as exc:  # httpx's own timeouts are mapped in _follow
        raise _failed(_parse(url), f"did not answer within {timeout_seconds:g} s") from exc
    finally:
        if own_client:
            await http.aclose()


async def _follow(
    http: httpx.AsyncClient, target: _Target, allow: _Allowlist, max_bytes: int, timeout: httpx.Timeout
) -> bytes:
    for _ in range(MAX_REDIRECTS + 1):
        try:
            # DNS rebinding: the request goes to the address _check_target resolved and checked (the
            # URL's host replaced by it, the name kept in the Host header and in TLS SNI/certificate
            # checks), never to a second lookup of the name that could answer differently. Checking
            # the peer after connecting instead would need transport internals and reacts too late.
            async with http.stream(
                "GET",
                target.request_url(),
                headers=target.headers(),
                extensions=target.extensions(),
                timeout=timeout,
                follow_redirects=False,
            ) as response:
                if response.is_redirect:
                    target = await _redirect_target(target.url, response.headers["location"], allow)
                    continue
                if not response.is_success:
                    raise _failed(target.url, f"answered HTTP {response.status_code}")
                return await _read_capped(response, target.url, max_bytes)
        except httpx.TimeoutException as exc:
            raise _failed(target.url, f"timed out after {timeout.read:g} s") from exc
        except httpx.HTTPError as exc:  # refused connection, TLS error, broken body
            raise _failed(target.url, f"could not be fetched ({type(exc).__name__})") from exc
    raise _failed(target.url, f"redirected more than {MAX_REDIRECTS} times")


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


async def _redirect_target(current: httpx.URL, location: str, allow: _Allowlist) -> _Target:
    try:
        joined = current.join(location)  # Location may be relative to the current URL
    except httpx.InvalidURL as exc:
        raise _failed(current, "redirected to an invalid URL") from exc
    return await _check_target(str(joined), allow, redirected=True)


def _parse(url: str, *, after: str = "") -> httpx.URL:
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, AttributeError) as exc:
        raise ValidationFailed(f"{FIELD}: not a valid URL{after}", field=FIELD) from exc
    if parsed.scheme not in _SCHEMES:
        shown = f"not '{parsed.scheme}'" if parsed.scheme else "not a path or relative URL"
        raise ValidationFailed(f"{FIELD}: only http and https URLs are allowed, {shown}{after}", field=FIELD)
    if not _host_of(parsed):
        raise ValidationFailed(f"{FIELD}: the URL has no host{after}", field=FIELD)
    return parsed


async def _check_target(url: str, allow: _Allowlist, *, redirected: bool = False) -> _Target:
    """Every URL (the client's and each redirect's) passes here before we connect to it."""
    after = " (after a redirect)" if redirected else ""
    parsed = _parse(url, after=after)
    host = _host_of(parsed)
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]  # an IP literal (zone id included) needs no lookup
    else:
        # The OS resolver reads every numeric spelling (2130706433, 0x7f.1, 127.1): whatever it makes
        # of the name is what we check, and what we connect to.
        try:
            found = [
                _literal(address) for address in await _resolve(host, parsed.port or _DEFAULT_PORTS[parsed.scheme])
            ]
        except OSError as exc:  # socket.gaierror: no such name
            raise _failed(parsed, "could not be resolved") from exc
        addresses = [address for address in found if address is not None]
        if not addresses or len(addresses) != len(found):
            raise _failed(parsed, "could not be resolved")
    if any(_internal(address) and not allow.allows(host, address) for address in addresses):
        raise ValidationFailed(
            f"{FIELD}: the address of {parsed.host} is not allowed (internal or reserved network){after}",
            field=FIELD,
        )
    return _Target(parsed, str(addresses[0]))


async def _resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to, in the resolver's order (tests replace this)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _host_of(url: httpx.URL) -> str:
    """The host as sent to the resolver: IDNA-encoded, lower case, no trailing dot, zone id decoded."""
    return unquote(url.raw_host.decode("ascii")).lower().rstrip(".")


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])  # the zone id of fe80::1%eth0 is no part of it
    except ValueError:
        return None


def _internal(address: IPAddress) -> bool:
    """True for any address that is not plainly public, or any IPv6 form that wraps such an IPv4."""
    if isinstance(address, ipaddress.IPv6Address):
        # IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses reach that IPv4 address:
        # judged by it alone (DNS64 gives every IPv4-only site such an address on an IPv6-only host).
        translated = address.ipv4_mapped or (_low32(address) if address in _NAT64 else None)
        if translated is not None:
            return _internal_plain(translated)
        embedded: list[ipaddress.IPv4Address | None] = [address.sixtofour]
        if address.teredo is not None:
            embedded.extend(address.teredo)  # (server, client), the client already de-obfuscated
        if address in _IPV4_COMPATIBLE:  # deprecated ::a.b.c.d (reserved anyway)
            embedded.append(_low32(address))
        if address in _NAT64_LOCAL or any(v4 is not None and _internal_plain(v4) for v4 in embedded):
            return True
    return _internal_plain(address)


def _low32(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def _internal_plain(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:  # fec0::/10, deprecated
        return True
    return (
        address.is_loopback
        or address.is_private  # RFC 1918, fc00::/7, ...
        or address.is_link_local  # 169.254/16 (cloud metadata 169.254.169.254), fe80::/10
        or address.is_multicast
        or address.is_unspecified
        or address.is_reserved
        or address in _CGNAT
        or not address.is_global  # the rest of IANA's special-purpose registries (TEST-NETs, ...)
    )


def _failed(target: httpx.URL, what: str) -> BadRequestError:
    return BadRequestError(f"{FIELD}: the audio at {target.host} {what}", field=FIELD)


def _too_large(target: httpx.URL, max_bytes: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"{FIELD}: the audio at {target.host} is larger than {max_bytes} bytes", field=FIELD)
