"""The safe fetcher: an httpx client that cannot be turned against the city's own network.

PostVault fetches URLs that people give it (a blog feed, a Mastodon instance), so every
connection is vetted where it is made: the network backend resolves the host itself, refuses
the connection when any address is private, loopback, link-local, multicast, reserved or
unspecified, and then connects to the address it checked (so a DNS answer cannot change
between the check and the connection). Redirects are followed by httpx through the same
transport, so every hop is checked. Plain HTTP, and private addresses, are allowed only for
hosts in the allow-list (`POSTVAULT_FETCH_ALLOW_HOSTS`: "host:port", "host" for ports 80 and
443 only, or "host:*" for any port).

Every response body is also capped: the transport aborts a body past the policy's ceiling,
and `get_limited` / `read_capped` enforce a per-call limit on the decoded bytes (so a small
gzip body cannot inflate past the cap either).
"""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import typing
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx

from app.config import Settings

USER_AGENT = "PostVault/0.1 (public-records archive of flagged posts)"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SocketOption = (
    tuple[int, int, int] | tuple[int, int, bytes | bytearray] | tuple[int, int, None, int]
)

# NAT64 (RFC 6052) embeds an IPv4 address in the last 32 bits; the embedded one decides.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class FetchRefused(Exception):
    """The fetcher will not reach this URL (scheme, or where its host resolves)."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"refused to fetch {url}: {reason}")
        self.url = url
        self.reason = reason


class ResponseTooLarge(Exception):
    def __init__(self, url: str, max_bytes: int) -> None:
        super().__init__(f"the response from {url} is larger than the limit of {max_bytes} bytes")
        self.url = url
        self.max_bytes = max_bytes


class UnexpectedContentType(Exception):
    def __init__(self, url: str, content_type: str, allowed: Iterable[str]) -> None:
        allowed_list = sorted(allowed)
        super().__init__(
            f"the response from {url} is '{content_type or 'without a content type'}', "
            f"expected one of {', '.join(allowed_list)}"
        )
        self.url = url
        self.content_type = content_type
        self.allowed = allowed_list


DEFAULT_PORTS = frozenset({80, 443})


@dataclass(frozen=True)
class FetchPolicy:
    allow_hosts: frozenset[str] = field(default_factory=frozenset)
    max_bytes: int = 50 * 1024 * 1024
    timeout: float = 20.0
    user_agent: str = USER_AGENT

    def allows(self, host: str, port: int) -> bool:
        """Is `host:port` allow-listed? An entry `host:port` allows that port, a bare `host`
        only the web's ports (80, 443: otherwise a redirect from an allowed site could reach
        every service on that host), and `host:*` any port. IPv6: `[::1]:port`."""
        host = host.lower().strip("[]")
        candidates = {f"{host}:{port}", f"[{host}]:{port}", f"{host}:*", f"[{host}]:*"}
        if port in DEFAULT_PORTS:
            candidates |= {host, f"[{host}]"}
        return not candidates.isdisjoint(self.allow_hosts)


def policy_from_settings(settings: Settings) -> FetchPolicy:
    # The transport's ceiling must let a media file up to POSTVAULT_MAX_MEDIA_BYTES through; API
    # responses get the tighter fetch_max_bytes from the collectors (read_capped).
    return FetchPolicy(
        allow_hosts=settings.allowed_fetch_hosts,
        max_bytes=max(settings.fetch_max_bytes, settings.media_cap),
        timeout=settings.fetch_timeout_seconds,
    )


def describe_url(url: str | httpx.URL) -> str:
    """The URL without its query string, fit for error messages and logs (API keys travel
    in query strings)."""
    parts = urlsplit(str(url))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def refusal_reason(address: IPAddress) -> str | None:
    """Why a connection to `address` is refused, or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is None and address.sixtofour is not None:
            embedded = address.sixtofour
        if embedded is None and address.teredo is not None:
            embedded = address.teredo[1]
        if embedded is not None:
            inner = refusal_reason(embedded)
            return f"{inner} (embedded in {address})" if inner else None
    checks = (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
        # Shared address space (100.64.0.0/10) and the like: neither private nor public.
        ("non-global", not address.is_global),
    )
    for name, hit in checks:
        if hit:
            article = "an" if name[0] in "aeiou" else "a"
            return f"{address}, {article} {name} address"
    return None


def resolve_public(host: str, port: int) -> list[str]:
    """Resolve `host` and return its addresses, or raise FetchRefused if any is not public.

    Every address must be public, not just the first: a name with one public and one
    private address could otherwise be steered to the private one.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        text = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone index
        address = ipaddress.ip_address(text)
        reason = refusal_reason(address)
        if reason is not None:
            raise FetchRefused(f"{host}:{port}", f"{host} resolves to {reason}")
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise httpcore.ConnectError(f"cannot resolve {host}: no addresses")
    return addresses


class _GuardedBackend(httpcore.NetworkBackend):
    """Connects only to vetted addresses (allow-listed hosts skip the address check)."""

    def __init__(self, policy: FetchPolicy) -> None:
        self._policy = policy
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        if self._policy.allows(host, port):
            return self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        last_error: Exception | None = None
        for address in resolve_public(host, port):
            try:
                return self._inner.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None  # resolve_public returns at least one address
        raise last_error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not used by the fetcher")

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _CappedStream(httpx.SyncByteStream):
    def __init__(self, inner: httpx.SyncByteStream, url: str, max_bytes: int) -> None:
        self._inner = inner
        self._url = url
        self._max_bytes = max_bytes

    def __iter__(self) -> Iterator[bytes]:
        seen = 0
        for chunk in self._inner:
            seen += len(chunk)
            if seen > self._max_bytes:
                raise ResponseTooLarge(self._url, self._max_bytes)
            yield chunk

    def close(self) -> None:
        self._inner.close()


class GuardedTransport(httpx.HTTPTransport):
    """An HTTPTransport whose connections go through `_GuardedBackend`."""

    def __init__(self, policy: FetchPolicy) -> None:
        super().__init__(retries=0, trust_env=False)
        self.policy = policy
        # httpx does not take a network backend, so the pool it built is replaced by one
        # with the same defaults and the guarded backend.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_GuardedBackend(policy),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        shown = describe_url(url)
        if url.scheme not in ("http", "https"):
            raise FetchRefused(shown, f"the scheme '{url.scheme}' is not fetched")
        port = url.port or (443 if url.scheme == "https" else 80)
        if url.scheme == "http" and not self.policy.allows(url.host, port):
            raise FetchRefused(
                shown,
                "plain HTTP is allowed only for hosts in POSTVAULT_FETCH_ALLOW_HOSTS",
            )
        response = super().handle_request(request)
        length = response.headers.get("content-length", "")
        if length.isascii() and length.isdigit() and int(length) > self.policy.max_bytes:
            response.close()
            raise ResponseTooLarge(shown, self.policy.max_bytes)
        stream = typing.cast(httpx.SyncByteStream, response.stream)
        response.stream = _CappedStream(stream, shown, self.policy.max_bytes)
        return response


def make_client(policy: FetchPolicy) -> httpx.Client:
    return httpx.Client(
        transport=GuardedTransport(policy),
        timeout=httpx.Timeout(policy.timeout),
        follow_redirects=True,
        max_redirects=5,
        headers={"User-Agent": policy.user_agent},
        trust_env=False,
    )


@dataclass(frozen=True)
class FetchedBody:
    status: int
    headers: httpx.Headers
    content: bytes
    url: str
    content_type: str  # the media type alone, lower-case ("image/png"), "" when absent


def media_type(response: httpx.Response) -> str:
    return str(response.headers.get("content-type", "")).split(";", 1)[0].strip().lower()


def _type_allowed(content_type: str, allowed: Iterable[str]) -> bool:
    for pattern in allowed:
        pattern = pattern.lower()
        if pattern.endswith("/*") and content_type.startswith(pattern[:-1]):
            return True
        if content_type == pattern:
            return True
    return False


def read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """Read a streamed response's decoded body, aborting past `max_bytes`."""
    shown = describe_url(response.url)
    length = response.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length) > max_bytes:
        raise ResponseTooLarge(shown, max_bytes)
    chunks: list[bytes] = []
    seen = 0
    for chunk in response.iter_bytes():
        seen += len(chunk)
        if seen > max_bytes:
            raise ResponseTooLarge(shown, max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def get_limited(
    client: httpx.Client,
    url: str,
    *,
    max_bytes: int,
    headers: dict[str, str] | None = None,
    allowed_types: Iterable[str] | None = None,
) -> FetchedBody:
    """GET `url`, streaming, with a size cap and (for 2xx answers) a content-type check.

    `allowed_types` holds media types ("image/png") or families ("image/*"). Error answers
    (4xx/5xx) are returned with their status and body for the caller to judge.
    """
    with client.stream("GET", url, headers=headers) as response:
        content_type = media_type(response)
        if (
            allowed_types is not None
            and response.is_success
            and not _type_allowed(content_type, allowed_types)
        ):
            raise UnexpectedContentType(describe_url(response.url), content_type, allowed_types)
        content = read_capped(response, max_bytes)
        return FetchedBody(
            status=response.status_code,
            headers=response.headers,
            content=content,
            url=str(response.url),
            content_type=content_type,
        )


@dataclass(frozen=True)
class StreamedBody:
    """A GET whose 2xx body went to a file as it arrived (a podcast's audio): never in memory."""

    status: int
    headers: httpx.Headers
    url: str
    content_type: str
    sha256: str | None  # of the bytes written; None for a non-2xx answer (nothing written)
    size: int


def stream_limited(
    client: httpx.Client,
    url: str,
    dest: typing.BinaryIO,
    *,
    max_bytes: int,
    headers: dict[str, str] | None = None,
    allowed_types: Iterable[str] | None = None,
) -> StreamedBody:
    """GET `url` like `get_limited`, writing a 2xx body to `dest` chunk by chunk and hashing
    it on the way; ResponseTooLarge as soon as the declared or the received size passes
    `max_bytes` (what was written is then the caller's to discard)."""
    with client.stream("GET", url, headers=headers) as response:
        content_type = media_type(response)
        if not response.is_success:
            return StreamedBody(
                response.status_code, response.headers, str(response.url), content_type, None, 0
            )
        if allowed_types is not None and not _type_allowed(content_type, allowed_types):
            raise UnexpectedContentType(describe_url(response.url), content_type, allowed_types)
        shown = describe_url(response.url)
        length = response.headers.get("content-length", "")
        if length.isascii() and length.isdigit() and int(length) > max_bytes:
            raise ResponseTooLarge(shown, max_bytes)
        digest = hashlib.sha256()
        seen = 0
        for chunk in response.iter_bytes():
            seen += len(chunk)
            if seen > max_bytes:
                raise ResponseTooLarge(shown, max_bytes)
            digest.update(chunk)
            dest.write(chunk)
        return StreamedBody(
            response.status_code,
            response.headers,
            str(response.url),
            content_type,
            digest.hexdigest(),
            seen,
        )
