"""Meta's Graph APIs (Facebook, Instagram and Threads share one shape): every call carries the
token in the Authorization header (never in a URL, so never in a log line) and
`appsecret_proof`; usage headers slow the host before Meta throttles it; error envelopes are
read into one of: deletion, reconnect needed, paused host, or a transient failure.

Used by the three Meta platform packages and by the connect flow (app/connections)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self
from urllib.parse import parse_qsl, urlsplit

import httpx

from app.platforms.collected import (
    CaptureTarget,
    CollectResult,
    Deleted,
    NotVisible,
    RateLimited,
    TransientFailure,
)
from app.platforms.common import Abort, json_body
from app.platforms.fetcher import Fetcher, FetchingCollector, FetchSession
from app.platforms.ratelimit import host_key

if TYPE_CHECKING:
    from app.config import Settings

# Error codes that mean "this app or this token is sending too much": the host is paused.
THROTTLE_CODES = {4, 17, 32, 613}
THROTTLE_PAUSE = dt.timedelta(minutes=15)
# X-App-Usage / X-Business-Use-Case-Usage: percentages of the window used. From SLOW_AT the
# host waits a little before the next call; from PAUSE_AT it waits until the window resets.
SLOW_AT = 75
PAUSE_AT = 95
SLOW_PAUSE = dt.timedelta(seconds=30)
# Code 190: the token is invalid (expired, revoked, password changed); 102: session gone;
# 10 and 200-299: a permission the grant lacks. All are fixed only by the employee.
_TOKEN_CODES = {102, 190, 463, 467}
_MISSING_SUBCODE = 33  # code 100, subcode 33: the object does not exist or cannot be read
MAX_PAGES = 50  # a comments edge is followed at most this many pages
SCAN_PAGES = 20  # an account's media or threads list is searched at most this many pages


def appsecret_proof(token: str, app_secret: str) -> str:
    """HMAC-SHA256 of the token keyed by the app secret, hex (Meta's appsecret_proof)."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class GraphError(Exception):
    status: int
    code: int | None
    subcode: int | None
    message: str

    @property
    def missing(self) -> bool:
        # Code 100 alone also covers "missing permission" (the same sentence names both):
        # only the subcode says the object is gone.
        return self.code == 100 and self.subcode == _MISSING_SUBCODE

    @property
    def reconnect(self) -> bool:
        code = self.code or 0
        return (
            code in _TOKEN_CODES
            or code == 10
            or 200 <= code <= 299
            or (code == 100 and "permission" in self.message.lower())
        )

    @property
    def throttled(self) -> bool:
        return self.code in THROTTLE_CODES


def graph_error(status: int, body: Any) -> GraphError:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return GraphError(status, None, None, f"HTTP {status}")
    code = error.get("code")
    subcode = error.get("error_subcode")
    return GraphError(
        status,
        code if isinstance(code, int) else None,
        subcode if isinstance(subcode, int) else None,
        str(error.get("message") or f"HTTP {status}"),
    )


def _usage_percent(headers: httpx.Headers) -> int:
    """The highest figure in Meta's usage headers (0 when there are none or they are unreadable)."""
    highest = 0
    for name in ("x-app-usage", "x-business-use-case-usage", "x-ad-account-usage"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        entries = [value] if isinstance(value, dict) and "call_count" in value else []
        if isinstance(value, dict) and not entries:
            for items in value.values():
                if isinstance(items, list):
                    entries.extend(i for i in items if isinstance(i, dict))
        for entry in entries:
            for key in ("call_count", "total_time", "total_cputime"):
                figure = entry.get(key)
                if isinstance(figure, int | float):
                    highest = max(highest, int(figure))
    return highest


def _regain_minutes(headers: httpx.Headers) -> int:
    raw = headers.get("x-business-use-case-usage")
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return 0
    minutes = 0
    if isinstance(value, dict):
        for items in value.values():
            for item in items if isinstance(items, list) else []:
                figure = (
                    item.get("estimated_time_to_regain_access") if isinstance(item, dict) else 0
                )
                if isinstance(figure, int):
                    minutes = max(minutes, figure)
    return minutes


class Graph:
    """One platform's Graph API as seen by one capture (or one connect step)."""

    def __init__(self, http: FetchSession, base_url: str, token: str, app_secret: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.app_secret = app_secret

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path}"

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """The answer's JSON; Abort with the right outcome on a Graph error."""
        status, body, _ = self.call(path, params)
        if status != 200:
            raise Abort(outcome_for(graph_error(status, body), self.url(path), self.http))
        return body

    def call(self, path: str, params: dict[str, str] | None = None) -> tuple[int, Any, str]:
        url = self.url(path)
        query = dict(params or {})
        query["appsecret_proof"] = appsecret_proof(self.token, self.app_secret)
        response = self.http.get(
            url,
            params=query,
            headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"},
        )
        self._watch_usage(url, response.headers)
        return response.status_code, json_body(response, "Graph API"), url

    def _watch_usage(self, url: str, headers: httpx.Headers) -> None:
        used = _usage_percent(headers)
        if used < SLOW_AT:
            return
        now = self.http.fetcher.clock()
        if used >= PAUSE_AT:
            wait = dt.timedelta(minutes=max(_regain_minutes(headers), 5))
        else:
            wait = SLOW_PAUSE
        self.http.fetcher.limiter.pause(host_key(url), now + wait)

    def pages(self, path: str, params: dict[str, str] | None = None) -> list[Any]:
        """Every item of an edge, following `paging.next` (at most MAX_PAGES pages)."""
        items: list[Any] = []
        body = self.get(path, params)
        for _ in range(MAX_PAGES):
            data = body.get("data") if isinstance(body, dict) else None
            items.extend(data if isinstance(data, list) else [])
            following = (body.get("paging") or {}).get("next") if isinstance(body, dict) else None
            if not isinstance(following, str) or not following or not data:
                break
            body = self.get(*self.next_page(following))
        return items

    def find(
        self,
        path: str,
        params: dict[str, str],
        matches: Callable[[dict[str, Any]], bool],
    ) -> str | None:
        """The id of the first item of a list edge that `matches`, page by page (at most
        SCAN_PAGES), or None: used to turn a URL's shortcode into the object id."""
        body = self.get(path, params)
        for _ in range(SCAN_PAGES):
            data = body.get("data") if isinstance(body, dict) else None
            for item in data if isinstance(data, list) else []:
                if isinstance(item, dict) and item.get("id") and matches(item):
                    return str(item["id"])
            following = (body.get("paging") or {}).get("next") if isinstance(body, dict) else None
            if not isinstance(following, str) or not following or not data:
                return None
            body = self.get(*self.next_page(following))
        return None

    def next_page(self, following: str) -> tuple[str, dict[str, str]]:
        """Meta's `paging.next` names its own host and carries the token in the query: the
        next page is asked of our base URL, with the token in the header as always."""
        parts = urlsplit(following)
        path = re.sub(r"^/v[0-9]+\.[0-9]+/", "", parts.path).lstrip("/")
        params = {
            k: v
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k not in ("access_token", "appsecret_proof")
        }
        return path, params


def outcome_for(error: GraphError, url: str, http: FetchSession) -> CollectResult:
    if error.throttled:
        host = host_key(url)
        retry_at = http.fetcher.clock() + THROTTLE_PAUSE
        http.fetcher.limiter.pause(host, retry_at)
        return RateLimited(
            host=host, retry_at=retry_at, reason=f"Meta throttled the app (code {error.code})"
        )
    if error.missing:
        return Deleted(
            reason=f"Meta answers that the object no longer exists (code {error.code}/"
            f"{error.subcode}: {error.message})",
            source={
                "error": {"code": error.code, "subcode": error.subcode, "message": error.message}
            },
        )
    if error.reconnect:
        return NotVisible(
            reason=f"the connected account's grant no longer works (code {error.code}: "
            f"{error.message}): the employee must reconnect it",
            reconnect=True,
        )
    return TransientFailure(error=f"the Graph API answered HTTP {error.status}: {error.message}")


class GraphCollector(FetchingCollector, ABC):
    """The base of the three Meta collectors: one Graph API base URL and the app secret;
    `connected` refuses a capture before any request when the app or the account's grant
    is missing."""

    def __init__(
        self, *, graph_url: str, app_secret: str | None, fetcher: Fetcher | None = None
    ) -> None:
        super().__init__(fetcher)
        self.graph_url = graph_url.rstrip("/")
        self.app_secret = app_secret

    @classmethod
    def from_settings(cls, settings: Settings, graph_url: str, fetcher: Fetcher) -> Self:
        secret = settings.meta_app_secret
        return cls(
            graph_url=graph_url,
            app_secret=secret.get_secret_value() if secret else None,
            fetcher=fetcher,
        )

    def collect(self, target: CaptureTarget, client: httpx.Client) -> CollectResult:
        return self.fetcher.run(client, lambda http: self.collect_with(target, http))

    @abstractmethod
    def collect_with(self, target: CaptureTarget, http: FetchSession) -> CollectResult:
        """The capture itself: each Meta platform reads its own objects."""

    def connected(
        self, target: CaptureTarget, http: FetchSession, what: str, *, needs_account_id: bool
    ) -> Graph:
        """The Graph for this capture, or Abort: no Meta app configured, or `what` (the
        platform's account, e.g. "the Facebook Page") not connected."""
        if not self.app_secret:
            raise Abort(
                NotVisible(reason="no Meta app is configured: set POSTVAULT_META_APP_SECRET")
            )
        if not target.access_token or (needs_account_id and not target.account_platform_id):
            raise Abort(
                NotVisible(
                    reason=f"{what} is not connected: connect it on My accounts", reconnect=True
                )
            )
        return Graph(http, self.graph_url, target.access_token, self.app_secret)
