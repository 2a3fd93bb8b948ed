"""Talking to one wiki's action API: find api.php from a page, send a query, read its errors.

The API's path differs between wikis (Wikipedia: /w/api.php; Debian's package: /api.php;
a city's wiki: anything), so it is never assumed: every MediaWiki page names it in
`<link rel="EditURI" href=".../api.php?action=rsd">` (the Really Simple Discovery document,
whose `apiLink` is the API). The href usually is api.php itself; otherwise the RSD is read.
"""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx

from app.platforms.collected import NotVisible, RateLimited, TransientFailure
from app.platforms.common import Abort, json_body
from app.platforms.fetcher import Fetcher, FetchSession
from app.platforms.http import describe_url
from app.platforms.ratelimit import host_key, parse_retry_after

# A MediaWiki that is busy answers HTTP 200 with one of these error codes (and usually a
# Retry-After header): the host is paused like after a 429.
_BUSY_CODES = {"ratelimited", "maxlag", "readonly"}
_DEFAULT_BUSY_PAUSE = dt.timedelta(minutes=5)
_RSD_API_LINK = re.compile(r"""apiLink\s*=\s*["']([^"']+)["']""")
DISCOVERY_MAX_BYTES = 2 * 1024 * 1024


class _LinkFinder(HTMLParser):
    """The first <link rel="EditURI"> of a page (MediaWiki puts it in <head>)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.edit_uri: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "link" or self.edit_uri is not None:
            return
        values = {k.lower(): (v or "") for k, v in attrs}
        if "edituri" in values.get("rel", "").lower().split() and values.get("href"):
            self.edit_uri = values["href"]


def edit_uri_of(html: str) -> str | None:
    finder = _LinkFinder()
    finder.feed(html[:DISCOVERY_MAX_BYTES])
    return finder.edit_uri


def fetch_url(fetcher: Fetcher, url: str) -> str:
    """`url` with the scheme the fetcher uses for its host (plain HTTP only where allowed)."""
    parts = urlsplit(url)
    return urlunsplit(
        (fetcher.scheme_for(parts.netloc), parts.netloc, parts.path or "/", parts.query, "")
    )


def discover_api(http: FetchSession, page_url: str) -> tuple[str, dict[str, Any]]:
    """The api.php URL a wiki page names, and what was read to find it (for the record).

    Abort(TransientFailure) when the page names no API: it is not a MediaWiki page, or the
    wiki hides its API."""
    fetcher = http.fetcher
    page = fetch_url(fetcher, page_url)
    response = http.get(page, headers={"Accept": "text/html"}, max_bytes=DISCOVERY_MAX_BYTES)
    found = edit_uri_of(response.text)
    record: dict[str, Any] = {"page": describe_url(page), "status": response.status_code}
    if found is None:
        raise Abort(
            TransientFailure(
                error=f"{describe_url(page)} (HTTP {response.status_code}) names no MediaWiki "
                'API (no <link rel="EditURI">): is it a MediaWiki page?'
            )
        )
    edit_uri = fetch_url(fetcher, urljoin(page, found))
    record["edit_uri"] = edit_uri
    if urlsplit(edit_uri).path.endswith("api.php"):
        api = describe_url(edit_uri)
    else:
        rsd = http.get(edit_uri, max_bytes=DISCOVERY_MAX_BYTES)
        match = _RSD_API_LINK.search(rsd.text)
        if rsd.status_code != 200 or match is None:
            raise Abort(
                TransientFailure(
                    error=f"the discovery document {describe_url(edit_uri)} (HTTP "
                    f"{rsd.status_code}) names no API"
                )
            )
        api = fetch_url(fetcher, urljoin(edit_uri, match.group(1)))
        record["rsd_api_link"] = api
    record["api"] = api
    return api, record


def call(http: FetchSession, api: str, what: str, **params: str) -> tuple[dict[str, Any], Any]:
    """GET api.php with `params` (JSON, formatversion 2); returns (answer, error or None).

    A busy wiki (ratelimited, maxlag) pauses the host and aborts with RateLimited; a wiki that
    needs a login to read aborts with NotVisible; an answer that is not a JSON object aborts
    with TransientFailure. Other API errors are returned for the caller to judge."""
    query = {**params, "format": "json", "formatversion": "2", "errorformat": "plaintext"}
    response = http.get(api, params=query, headers={"Accept": "application/json"})
    if response.status_code != 200:
        raise Abort(
            TransientFailure(
                error=f"the wiki's API answered HTTP {response.status_code} to the {what} "
                f"request ({describe_url(api)})"
            )
        )
    body = json_body(response, what)
    if not isinstance(body, dict):
        raise Abort(
            TransientFailure(error=f"the {what} answer from {describe_url(api)} is not an object")
        )
    errors = body.get("errors") or ([body["error"]] if isinstance(body.get("error"), dict) else [])
    if not errors:
        return body, None
    first = errors[0] if isinstance(errors[0], dict) else {"code": str(errors[0])}
    code = str(first.get("code") or "")
    info = str(first.get("text") or first.get("info") or code)
    if code in _BUSY_CODES:
        _pause(http, api, response, code, info)
    if code in ("readapidenied", "permissiondenied") and what != "compare":
        raise Abort(
            NotVisible(reason=f"the wiki refuses to show this without a login ({code}: {info})")
        )
    return body, {"code": code, "info": info}


def _pause(http: FetchSession, api: str, response: httpx.Response, code: str, info: str) -> None:
    fetcher = http.fetcher
    now = fetcher.clock()
    header = response.headers.get("retry-after")
    retry_at = (parse_retry_after(header, now) if header else None) or now + _DEFAULT_BUSY_PAUSE
    host = host_key(api)
    fetcher.limiter.pause(host, retry_at)
    raise Abort(
        RateLimited(host=host, retry_at=retry_at, reason=f"the wiki is busy ({code}: {info})")
    )
