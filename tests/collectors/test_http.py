"""The safe fetcher against real loopback servers: scheme, address and size refusals."""

from __future__ import annotations

import gzip
import ipaddress
import socket

import httpx
import pytest

from app.config import Settings
from app.platforms.http import (
    FetchPolicy,
    FetchRefused,
    ResponseTooLarge,
    UnexpectedContentType,
    describe_url,
    get_limited,
    make_client,
    policy_from_settings,
    refusal_reason,
    resolve_public,
)
from tests.collectors.conftest import MakeClient
from tests.collectors.servers import Answer, Request, serve


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.8.9.10", "loopback"),
        ("10.0.0.7", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),  # cloud metadata service
        ("100.64.0.1", "non-global"),  # carrier-grade NAT
        ("0.0.0.0", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("240.0.0.1", "private"),  # reserved 240/4: Python files it under private
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::5", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),  # IPv4-mapped
        ("::ffff:10.1.2.3", "private"),
        ("64:ff9b::a9fe:a9fe", "link-local"),  # NAT64 of 169.254.169.254
        ("2002:c0a8:101::1", "private"),  # 6to4 of 192.168.1.1
    ],
)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    reason = refusal_reason(ipaddress.ip_address(address))
    assert reason is not None
    assert kind in reason


@pytest.mark.parametrize(
    "address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal_reason(ipaddress.ip_address(address)) is None


def test_localhost_resolves_to_a_refused_address() -> None:
    with pytest.raises(FetchRefused, match="loopback"):
        resolve_public("localhost", 443)


def _hello(_request: Request) -> Answer:
    return Answer(200, [("Content-Type", "text/plain")], b"hello")


def test_allow_listed_loopback_server_is_reached(make_fetch_client: MakeClient) -> None:
    with serve(_hello) as server:
        client = make_fetch_client(server.host)
        response = client.get(f"{server.base_url}/x")
    assert response.status_code == 200
    assert response.text == "hello"


def test_allow_listing_host_star_covers_every_port(make_fetch_client: MakeClient) -> None:
    with serve(_hello) as server:
        response = make_fetch_client("127.0.0.1:*").get(f"{server.base_url}/x")
        with pytest.raises(FetchRefused):
            make_fetch_client("127.0.0.1").get(f"{server.base_url}/x")
    assert response.status_code == 200


def test_plain_http_to_a_host_not_allow_listed_is_refused(
    make_fetch_client: MakeClient,
) -> None:
    with serve(_hello) as allowed, serve(_hello) as other:
        client = make_fetch_client(allowed.host)
        with pytest.raises(FetchRefused, match="plain HTTP"):
            client.get(f"{other.base_url}/x")
        with pytest.raises(FetchRefused, match="plain HTTP"):
            client.get("http://example.com/")
    assert other.requests == []


def test_https_to_a_loopback_name_is_refused_after_resolution(
    make_fetch_client: MakeClient,
) -> None:
    """https is allowed in principle; 'localhost' resolves to loopback, so no connection."""
    with serve(_hello) as server:
        client = make_fetch_client()
        with pytest.raises(FetchRefused, match="localhost resolves to .*loopback"):
            client.get(f"https://localhost:{server.port}/x")
        with pytest.raises(FetchRefused, match="loopback"):
            client.get(f"https://127.0.0.1:{server.port}/x")
    assert server.requests == []


def test_other_schemes_are_refused(make_fetch_client: MakeClient) -> None:
    transport = make_fetch_client()._transport
    with pytest.raises(FetchRefused, match="scheme 'ftp'"):
        transport.handle_request(httpx.Request("GET", "ftp://example.com/file"))


def test_a_redirect_to_a_port_not_allow_listed_is_refused(
    make_fetch_client: MakeClient,
) -> None:
    with serve(_hello) as inside:

        def redirect(_request: Request) -> Answer:
            return Answer(302, [("Location", f"{inside.base_url}/secret")])

        with serve(redirect) as outside:
            client = make_fetch_client(outside.host)
            with pytest.raises(FetchRefused, match="plain HTTP"):
                client.get(f"{outside.base_url}/start")
            # An https hop to the same address is refused by the address check instead.
            outside.app = lambda _r: Answer(
                302, [("Location", f"https://127.0.0.1:{inside.port}/")]
            )
            with pytest.raises(FetchRefused, match="loopback"):
                client.get(f"{outside.base_url}/start")
    assert inside.requests == []
    assert len(outside.requests) == 2


def test_a_bare_host_entry_does_not_open_the_hosts_other_ports(
    make_fetch_client: MakeClient,
) -> None:
    """An entry without a port ("127.0.0.1") is for the web's ports: a redirect from an
    allowed server to another port on that host is refused on the hop."""
    with serve(_hello) as inside:

        def redirect(_request: Request) -> Answer:
            return Answer(302, [("Location", f"{inside.base_url}/admin")])

        with serve(redirect) as outside:
            client = make_fetch_client(outside.host, "127.0.0.1")
            with pytest.raises(FetchRefused):
                client.get(f"{outside.base_url}/start")
    assert inside.requests == []
    assert len(outside.requests) == 1


def test_redirects_between_allow_listed_hosts_are_followed(
    make_fetch_client: MakeClient,
) -> None:
    with serve(_hello) as target:
        with serve(lambda _r: Answer(301, [("Location", f"{target.base_url}/moved")])) as first:
            response = make_fetch_client(first.host, target.host).get(f"{first.base_url}/a")
    assert response.status_code == 200
    assert str(response.url) == f"{target.base_url}/moved"


def test_get_limited_reads_a_body_within_the_cap(make_fetch_client: MakeClient) -> None:
    body = b"\x89PNG" + b"x" * 1000
    with serve(lambda _r: Answer(200, [("Content-Type", "image/png")], body)) as server:
        fetched = get_limited(
            make_fetch_client(server.host),
            f"{server.base_url}/a.png",
            max_bytes=2000,
            allowed_types={"image/*"},
        )
    assert fetched.status == 200
    assert fetched.content == body
    assert fetched.content_type == "image/png"
    assert fetched.url == f"{server.base_url}/a.png"


def test_a_declared_length_over_the_cap_is_refused_before_reading(
    make_fetch_client: MakeClient,
) -> None:
    with serve(lambda _r: Answer(200, [("Content-Type", "image/png")], b"x" * 5000)) as server:
        with pytest.raises(ResponseTooLarge, match="4096 bytes"):
            get_limited(make_fetch_client(server.host), f"{server.base_url}/a", max_bytes=4096)


def test_a_streamed_body_over_the_cap_is_cut_off(make_fetch_client: MakeClient) -> None:
    """No Content-Length: a chunked body is counted as it arrives."""
    headers = [("Content-Type", "image/png"), ("Transfer-Encoding", "chunked")]
    with serve(lambda _r: Answer(200, headers, b"y" * 50_000)) as server:
        with pytest.raises(ResponseTooLarge):
            get_limited(make_fetch_client(server.host), f"{server.base_url}/a", max_bytes=10_000)


def test_a_small_gzip_body_that_inflates_past_the_cap_is_cut_off(
    make_fetch_client: MakeClient,
) -> None:
    bomb = gzip.compress(b"\0" * 200_000)
    assert len(bomb) < 10_000
    headers = [("Content-Type", "application/json"), ("Content-Encoding", "gzip")]
    with serve(lambda _r: Answer(200, headers, bomb)) as server:
        with pytest.raises(ResponseTooLarge):
            get_limited(make_fetch_client(server.host), f"{server.base_url}/a", max_bytes=10_000)


def test_the_policy_cap_applies_to_every_response(make_fetch_client: MakeClient) -> None:
    with serve(lambda _r: Answer(200, [("Content-Type", "text/plain")], b"z" * 3000)) as server:
        client = make_fetch_client(server.host, max_bytes=1000)
        with pytest.raises(ResponseTooLarge, match="1000 bytes"):
            client.get(f"{server.base_url}/a")


def test_an_unexpected_content_type_is_refused(make_fetch_client: MakeClient) -> None:
    with serve(
        lambda _r: Answer(200, [("Content-Type", "text/html; charset=utf-8")], b"<p>")
    ) as server:
        with pytest.raises(UnexpectedContentType, match="'text/html'.*image/jpeg, image/png"):
            get_limited(
                make_fetch_client(server.host),
                f"{server.base_url}/a.jpg",
                max_bytes=1000,
                allowed_types={"image/png", "image/jpeg"},
            )


def test_error_answers_are_returned_not_type_checked(make_fetch_client: MakeClient) -> None:
    with serve(lambda _r: Answer(404, [("Content-Type", "text/html")], b"gone")) as server:
        fetched = get_limited(
            make_fetch_client(server.host),
            f"{server.base_url}/a.jpg",
            max_bytes=1000,
            allowed_types={"image/*"},
        )
    assert fetched.status == 404
    assert fetched.content == b"gone"


def test_timeouts_come_from_the_policy(make_fetch_client: MakeClient) -> None:
    with serve(lambda _r: Answer(200, [], b"late", delay=2.0)) as server:
        client = make_fetch_client(server.host, timeout=0.3)
        with pytest.raises(httpx.ReadTimeout):
            client.get(f"{server.base_url}/slow")


def test_policy_from_settings() -> None:
    settings = Settings(
        fetch_allow_hosts="127.0.0.1:8080, Feeds.Example.org",
        fetch_timeout_seconds=7,
        fetch_max_bytes=1000,
        media_max_bytes=5000,
    )
    policy = policy_from_settings(settings)
    assert policy.allow_hosts == frozenset({"127.0.0.1:8080", "feeds.example.org"})
    assert policy.timeout == 7
    assert (
        policy.max_bytes == 5000
    )  # the ceiling lets media up to POSTVAULT_MAX_MEDIA_BYTES through
    assert policy.allows("feeds.example.org", 443)
    assert policy.allows("127.0.0.1", 8080)
    assert not policy.allows("127.0.0.1", 8081)
    # A bare host allows the web's ports only, so no redirect reaches its other services.
    assert policy.allows("feeds.example.org", 80)
    assert not policy.allows("feeds.example.org", 6379)
    assert FetchPolicy(allow_hosts=frozenset({"127.0.0.1:*"})).allows("127.0.0.1", 6379)


def test_ipv6_allow_list_entries() -> None:
    policy = FetchPolicy(allow_hosts=frozenset({"[::1]:8080"}))
    assert policy.allows("::1", 8080)
    assert not policy.allows("::1", 8081)


def test_error_messages_never_carry_query_strings() -> None:
    assert (
        describe_url("https://api.example/videos?id=1&key=SECRET") == "https://api.example/videos"
    )


def test_the_client_ignores_proxy_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A proxy would connect on our behalf and skip the address check."""
    monkeypatch.setenv("HTTPS_PROXY", "http://10.0.0.1:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://10.0.0.1:3128")
    with serve(_hello) as server:
        client = make_client(FetchPolicy(allow_hosts=frozenset({server.host})))
        try:
            assert client.get(f"{server.base_url}/x").text == "hello"
        finally:
            client.close()


def test_an_unresolvable_name_is_a_connect_error(make_fetch_client: MakeClient) -> None:
    with pytest.raises(httpx.ConnectError):
        make_fetch_client().get("https://no-such-host.invalid/")


def test_a_closed_port_is_a_connect_error(make_fetch_client: MakeClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(httpx.ConnectError):
        make_fetch_client(f"127.0.0.1:{port}").get(f"http://127.0.0.1:{port}/")
