"""Rate-limit headers in their three styles, the per-host limiter, and retries against real
loopback servers."""

from __future__ import annotations

import datetime as dt
import threading
from email.utils import format_datetime

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.platforms.http import FetchRefused, ResponseTooLarge
from app.platforms.ratelimit import (
    MAX_PAUSE,
    HostLimiter,
    HostPaused,
    RequestStats,
    TransientHTTPError,
    default_backoff,
    host_key,
    parse_reset,
    request_with_retries,
    retry_at_from_headers,
)
from tests.collectors.conftest import MakeClient, no_sleep
from tests.collectors.servers import Answer, Request, load_recording, serve

NOW = dt.datetime(2026, 8, 1, 13, 54, 30, tzinfo=dt.UTC)


def test_mastodon_iso_reset_from_a_recorded_answer() -> None:
    recorded = load_recording("test_status_edit_03_GET_api_v1_statuses_117020586180926938")
    headers = httpx.Headers(recorded.headers)
    assert headers["x-ratelimit-reset"] == "2026-08-01T13:55:00.795763Z"
    assert retry_at_from_headers(headers, NOW) == dt.datetime(
        2026, 8, 1, 13, 55, 0, 795763, tzinfo=dt.UTC
    )


def test_bluesky_epoch_reset() -> None:
    reset = int((NOW + dt.timedelta(minutes=5)).timestamp())
    headers = {"RateLimit-Limit": "3000", "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)}
    assert retry_at_from_headers(headers, NOW) == NOW + dt.timedelta(minutes=5)


def test_ietf_delta_seconds_reset() -> None:
    assert retry_at_from_headers({"ratelimit-reset": "42"}, NOW) == NOW + dt.timedelta(seconds=42)


def test_retry_after_seconds_and_http_date() -> None:
    assert retry_at_from_headers({"Retry-After": "120"}, NOW) == NOW + dt.timedelta(minutes=2)
    later = NOW + dt.timedelta(hours=1)
    date = format_datetime(later, usegmt=True)
    assert retry_at_from_headers({"Retry-After": date}, NOW) == later


def test_retry_after_wins_over_the_window_reset() -> None:
    headers = {"Retry-After": "10", "X-RateLimit-Reset": "2026-08-01T14:00:00Z"}
    assert retry_at_from_headers(headers, NOW) == NOW + dt.timedelta(seconds=10)


def test_a_reset_in_the_past_means_now_and_a_huge_one_is_capped() -> None:
    assert retry_at_from_headers({"X-RateLimit-Reset": "2020-01-01T00:00:00Z"}, NOW) == NOW
    assert retry_at_from_headers({"Retry-After": "99999999999"}, NOW) == NOW + MAX_PAUSE
    assert parse_reset("99999999999999", NOW) == NOW + MAX_PAUSE


def test_no_or_junk_headers_give_none() -> None:
    assert retry_at_from_headers({}, NOW) is None
    assert (
        retry_at_from_headers({"Retry-After": "soon", "X-RateLimit-Reset": "tomorrow"}, NOW) is None
    )


# hypothesis takes naive bounds and attaches the time zone itself.
EARLIEST = dt.datetime(1970, 1, 2)  # noqa: DTZ001
LATEST = dt.datetime(9998, 12, 31)  # noqa: DTZ001
NOW_MIN = dt.datetime(2000, 1, 1)  # noqa: DTZ001
NOW_MAX = dt.datetime(2100, 1, 1)  # noqa: DTZ001
reset_forms = st.one_of(
    st.integers(min_value=0, max_value=10**12).map(str),
    st.floats(min_value=0, max_value=1e9, allow_nan=False).map(lambda f: f"{f:.3f}"),
    st.datetimes(
        min_value=EARLIEST,
        max_value=LATEST,
        timezones=st.just(dt.UTC),
    ).map(lambda d: d.isoformat().replace("+00:00", "Z")),
    st.datetimes(
        min_value=EARLIEST,
        max_value=LATEST,
        timezones=st.just(dt.UTC),
    ).map(lambda d: format_datetime(d, usegmt=True)),
)
header_names = st.sampled_from(
    ["Retry-After", "RateLimit-Reset", "X-RateLimit-Reset", "ratelimit-reset", "x-ratelimit-reset"]
)
nows = st.datetimes(min_value=NOW_MIN, max_value=NOW_MAX, timezones=st.just(dt.UTC))


@given(name=header_names, value=reset_forms, now=nows)
def test_any_valid_reset_form_gives_a_time_not_before_now(
    name: str, value: str, now: dt.datetime
) -> None:
    retry_at = retry_at_from_headers({name: value}, now)
    assert retry_at is not None
    assert now <= retry_at <= now + MAX_PAUSE


@given(
    headers=st.dictionaries(
        st.one_of(
            header_names,
            st.sampled_from(["RateLimit-Remaining", "X-RateLimit-Remaining"]),
            st.text(max_size=20),
        ),
        st.text(max_size=60),
        max_size=6,
    ),
    now=nows,
)
def test_junk_headers_never_raise(headers: dict[str, str], now: dt.datetime) -> None:
    retry_at = retry_at_from_headers(headers, now)
    assert retry_at is None or now <= retry_at <= now + MAX_PAUSE
    limiter = HostLimiter()
    until = limiter.observe("h", headers, now)
    assert until is None or until > now


def test_limiter_pauses_and_resumes() -> None:
    limiter = HostLimiter()
    assert limiter.paused_until("a", NOW) is None
    limiter.pause("a", NOW + dt.timedelta(seconds=30))
    limiter.pause("a", NOW + dt.timedelta(seconds=10))  # an earlier end does not shorten it
    assert limiter.paused_until("a", NOW) == NOW + dt.timedelta(seconds=30)
    assert limiter.paused_until("b", NOW) is None
    assert limiter.paused_until("a", NOW + dt.timedelta(seconds=31)) is None


def test_limiter_pauses_pre_emptively_when_nothing_remains() -> None:
    limiter = HostLimiter()
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2026-08-01T13:55:00Z"}
    assert limiter.observe("a", headers, NOW) == dt.datetime(2026, 8, 1, 13, 55, tzinfo=dt.UTC)
    assert limiter.paused_until("a", NOW) is not None
    assert limiter.observe("b", {**headers, "X-RateLimit-Remaining": "1"}, NOW) is None
    assert limiter.paused_until("b", NOW) is None


def test_limiter_is_thread_safe() -> None:
    limiter = HostLimiter()
    ends = [NOW + dt.timedelta(seconds=s) for s in range(1, 401)]

    def worker(chunk: list[dt.datetime]) -> None:
        for end in chunk:
            limiter.pause("shared", end)
            limiter.paused_until("shared", NOW)

    threads = [threading.Thread(target=worker, args=(ends[i::8],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert limiter.paused_until("shared", NOW) == max(ends)


def test_host_key_keeps_the_port() -> None:
    assert host_key("https://Mastodon.Social/api/v1/x") == "mastodon.social"
    assert host_key("http://127.0.0.1:8080/x") == "127.0.0.1:8080"


def test_default_backoff_is_short_and_growing() -> None:
    delays = [default_backoff(n) for n in range(1, 6)]
    assert delays == sorted(delays)
    assert sum(delays[:2]) <= 2.0


class Sequence:
    """Answers in order, then the last one forever."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)

    def __call__(self, _request: Request) -> Answer:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


OK = Answer.json({"ok": True})


def test_a_429_pauses_only_that_host(make_fetch_client: MakeClient) -> None:
    limiter = HostLimiter()
    limited = Answer.json({"error": "Too many requests"}, 429, [("Retry-After", "60")])
    with serve(Sequence(limited)) as busy, serve(Sequence(OK)) as calm:
        client = make_fetch_client(busy.host, calm.host)
        with pytest.raises(HostPaused) as raised:
            request_with_retries(client, limiter, "GET", f"{busy.base_url}/a", sleep=no_sleep)
        assert raised.value.host == busy.host
        # Paused: the next request is not even sent.
        with pytest.raises(HostPaused):
            request_with_retries(client, limiter, "GET", f"{busy.base_url}/b", sleep=no_sleep)
        assert len(busy.requests) == 1
        response = request_with_retries(client, limiter, "GET", f"{calm.base_url}/a")
        assert response.json() == {"ok": True}
    assert limiter.paused_until(calm.host) is None
    retry_at = limiter.paused_until(busy.host)
    assert retry_at is not None
    assert dt.timedelta(seconds=50) < retry_at - dt.datetime.now(dt.UTC) <= dt.timedelta(seconds=60)


@pytest.mark.parametrize(
    "headers",
    [
        [
            ("X-RateLimit-Limit", "300"),
            ("X-RateLimit-Remaining", "0"),
            ("X-RateLimit-Reset", "{iso}"),
        ],
        [("RateLimit-Limit", "3000"), ("RateLimit-Remaining", "0"), ("RateLimit-Reset", "{epoch}")],
        [("Retry-After", "{http_date}")],
    ],
    ids=["x-ratelimit-iso", "ratelimit-epoch", "retry-after-date"],
)
def test_a_429_in_each_header_style_pauses_until_its_reset(
    make_fetch_client: MakeClient, headers: list[tuple[str, str]]
) -> None:
    reset = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10)).replace(microsecond=0)
    values = {
        "iso": reset.isoformat().replace("+00:00", "Z"),
        "epoch": str(int(reset.timestamp())),
        "http_date": format_datetime(reset, usegmt=True),
    }
    filled = [(name, value.format(**values)) for name, value in headers]
    limiter = HostLimiter()
    with serve(Sequence(Answer.json({"error": "Too many requests"}, 429, filled))) as server:
        with pytest.raises(HostPaused) as raised:
            request_with_retries(
                make_fetch_client(server.host), limiter, "GET", f"{server.base_url}/a"
            )
    assert raised.value.retry_at == reset
    assert limiter.paused_until(server.host) == reset


def test_server_errors_are_retried_with_backoff(make_fetch_client: MakeClient) -> None:
    sleeps: list[float] = []
    stats = RequestStats()
    app = Sequence(Answer.json({"error": "oops"}, 503), Answer.json({}, 502), OK)
    with serve(app) as server:
        response = request_with_retries(
            make_fetch_client(server.host),
            HostLimiter(),
            "GET",
            f"{server.base_url}/a",
            sleep=sleeps.append,
            stats=stats,
        )
    assert response.status_code == 200
    assert stats.requests == 3
    assert sleeps == [default_backoff(1), default_backoff(2)]


def test_persistent_server_errors_end_in_a_transient_error(make_fetch_client: MakeClient) -> None:
    stats = RequestStats()
    with serve(Sequence(Answer.json({"error": "down"}, 500))) as server:
        with pytest.raises(TransientHTTPError, match=r"failed after 3 attempts; last: HTTP 500"):
            request_with_retries(
                make_fetch_client(server.host),
                HostLimiter(),
                "GET",
                f"{server.base_url}/a?key=SECRET",
                sleep=no_sleep,
                stats=stats,
            )
    assert stats.requests == 3
    assert len(server.requests) == 3


def test_timeouts_are_retried_then_reported(make_fetch_client: MakeClient) -> None:
    app = Sequence(Answer(200, [], b"late", delay=1.0), OK)
    with serve(app) as server:
        response = request_with_retries(
            make_fetch_client(server.host, timeout=0.2),
            HostLimiter(),
            "GET",
            f"{server.base_url}/a",
            sleep=no_sleep,
        )
        assert response.status_code == 200
        server.app = Sequence(Answer(200, [], b"late", delay=1.0))
        with pytest.raises(TransientHTTPError, match="timed out"):
            request_with_retries(
                make_fetch_client(server.host, timeout=0.2),
                HostLimiter(),
                "GET",
                f"{server.base_url}/a",
                attempts=2,
                sleep=no_sleep,
            )


def test_a_refused_fetch_is_not_retried(make_fetch_client: MakeClient) -> None:
    stats = RequestStats()
    with pytest.raises(FetchRefused):
        request_with_retries(
            make_fetch_client(), HostLimiter(), "GET", "http://example.com/", stats=stats
        )
    assert stats.requests == 1


def test_a_secret_query_never_reaches_the_error_message(make_fetch_client: MakeClient) -> None:
    with serve(Sequence(Answer.json({}, 500))) as server:
        with pytest.raises(TransientHTTPError) as raised:
            request_with_retries(
                make_fetch_client(server.host),
                HostLimiter(),
                "GET",
                f"{server.base_url}/videos?key=SECRET",
                attempts=1,
            )
    assert "SECRET" not in str(raised.value)


def test_remaining_zero_pauses_the_host_before_the_next_request(
    make_fetch_client: MakeClient,
) -> None:
    reset = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat()
    answer = Answer.json({}, 200, [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", reset)])
    limiter = HostLimiter()
    with serve(Sequence(answer)) as server:
        client = make_fetch_client(server.host)
        assert request_with_retries(client, limiter, "GET", f"{server.base_url}/a").is_success
        with pytest.raises(HostPaused):
            request_with_retries(client, limiter, "GET", f"{server.base_url}/b")
    assert len(server.requests) == 1


def test_max_bytes_caps_the_decoded_body(make_fetch_client: MakeClient) -> None:
    with serve(Sequence(Answer.json({"x": "y" * 5000}))) as server:
        with pytest.raises(ResponseTooLarge):
            request_with_retries(
                make_fetch_client(server.host),
                HostLimiter(),
                "GET",
                f"{server.base_url}/a",
                max_bytes=1000,
            )
