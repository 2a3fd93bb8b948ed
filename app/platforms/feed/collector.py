"""RSS and Atom: a blog entry, found in its account's feed and checked at its permalink.

The account's feed URL is `target.account_profile_url` (its handle is the same URL). Each poll:

1. GET the feed with the validators of the last poll (If-None-Match / If-Modified-Since);
2. GET the entry's permalink, because a removed entry often lingers in a cached feed while
   its page already answers 404 or 410.

Outcomes:
- permalink 404/410 → Deleted, whether or not the feed still lists the entry;
- feed 304 (and the permalink still there) → Unchanged;
- entry in the feed → CollectedPost from the feed (the permalink's answer is kept in
  `source["permalink"]`);
- entry no longer in the feed but its permalink still answers → Unchanged: blogs drop old
  entries from their feeds, which is not a removal, and there is no new text to compare;
- feed not well-formed XML, or not a feed at all → TransientFailure (never a deletion decided
  on a document that could not be read).

Encoding: the feed's bytes go to feedparser, which honours the XML prolog's encoding
(ISO-8859-1 and the like); the HTTP charset is passed only when the server names one.
HTML is kept as published (feedparser's sanitiser is off): the renderer sanitises.
"""

from __future__ import annotations

import calendar
import datetime as dt
import time
import xml.sax
from typing import Any

import feedparser
import httpx

from app.errors import Invalid
from app.platforms.collected import (
    Author,
    CaptureTarget,
    CollectedPost,
    CollectResult,
    Deleted,
    MediaRef,
    TransientFailure,
    Unchanged,
)
from app.platforms.feed.urls import PLATFORM_ID
from app.platforms.fetcher import FetchingCollector
from app.platforms.htmltext import summarise_html
from app.platforms.http import describe_url
from app.platforms.ratelimit import (
    HostPaused,
    RequestStats,
    TransientHTTPError,
)
from app.platforms.urls import normalise_web_url

_ENCLOSURE_ROLES = {"image": "image", "video": "video", "audio": "audio"}


def normalised_url(url: Any) -> str | None:
    if not isinstance(url, str) or not url.strip():
        return None
    try:
        return normalise_web_url(url)
    except Invalid:
        return None


def struct_time_utc(value: Any) -> dt.datetime | None:
    if not isinstance(value, time.struct_time):
        return None
    return dt.datetime.fromtimestamp(calendar.timegm(value), dt.UTC)


def entry_keys(entry: Any) -> set[str]:
    """Every form under which the entry could have been flagged: its links and its id."""
    keys: set[str] = set()
    raw = [entry.get("link"), entry.get("id")]
    raw += [link.get("href") for link in entry.get("links") or [] if link.get("rel") != "enclosure"]
    for value in raw:
        if isinstance(value, str) and value.strip():
            keys.add(value.strip())
            normalised = normalised_url(value)
            if normalised:
                keys.add(normalised)
    return keys


def entry_media(entry: Any) -> list[MediaRef]:
    refs: list[MediaRef] = []
    seen: set[str] = set()

    def add(url: Any, mime: Any, role: str | None = None, **size: Any) -> None:
        if not isinstance(url, str) or not url or url in seen:
            return
        seen.add(url)
        mime_type = mime if isinstance(mime, str) and mime else None
        kind = role or _ENCLOSURE_ROLES.get((mime_type or "").split("/")[0], "other")
        dims = {
            k: int(v)
            for k, v in size.items()
            if isinstance(v, str | int) and str(v).isascii() and str(v).isdigit()
        }
        refs.append(MediaRef(url=url, role=kind, mime_type=mime_type, **dims))

    for link in entry.get("links") or []:
        if link.get("rel") == "enclosure":
            add(link.get("href"), link.get("type"))
    for item in entry.get("media_content") or []:
        medium = item.get("medium")
        add(
            item.get("url"),
            item.get("type"),
            _ENCLOSURE_ROLES.get(medium) if medium else None,
            width=item.get("width"),
            height=item.get("height"),
        )
    for item in entry.get("media_thumbnail") or []:
        add(item.get("url"), None, "thumbnail", width=item.get("width"), height=item.get("height"))
    return refs


def entry_content(entry: Any) -> tuple[str | None, str]:
    """(html, text): the fullest content the entry carries."""
    contents = entry.get("content") or []
    chosen = next(
        (c for c in contents if "html" in str(c.get("type", ""))), contents[0] if contents else None
    )
    if chosen is not None:
        value = str(chosen.get("value") or "")
        is_html = "html" in str(chosen.get("type", ""))
    else:
        value = str(entry.get("summary") or "")
        detail = entry.get("summary_detail") or {}
        is_html = "html" in str(detail.get("type", "text/html"))
    if not value:
        return None, ""
    if is_html:
        return value, summarise_html(value).text
    return None, value.strip()


class FeedCollector(FetchingCollector):
    platform = PLATFORM_ID
    version = f"{PLATFORM_ID}/1"

    def collect(self, target: CaptureTarget, client: httpx.Client) -> CollectResult:
        return self.fetcher.run(client, lambda http: self._collect(target, client, http.stats))

    def _get(
        self,
        client: httpx.Client,
        url: str,
        stats: RequestStats,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return self.fetcher.session(client, stats).get(url, headers=headers)

    def _permalink_status(
        self, client: httpx.Client, url: str, stats: RequestStats
    ) -> tuple[int | None, str | None]:
        """(HTTP status, problem): the permalink's answer, or None and why it has none."""
        try:
            return self._get(client, url, stats).status_code, None
        except (HostPaused, TransientHTTPError) as exc:
            return None, str(exc)

    def _collect(
        self, target: CaptureTarget, client: httpx.Client, stats: RequestStats
    ) -> CollectResult:
        feed_url = target.account_profile_url or target.account_handle
        permalink = target.url
        headers = {
            "Accept": "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.5"
        }
        if target.validators.get("etag"):
            headers["If-None-Match"] = target.validators["etag"]
        if target.validators.get("last_modified"):
            headers["If-Modified-Since"] = target.validators["last_modified"]

        response = self._get(client, feed_url, stats, headers)
        if response.status_code == 304:
            status, _problem = self._permalink_status(client, permalink, stats)
            if status in (404, 410):
                return self._removed(permalink, status, in_feed=None)
            return Unchanged()
        if response.status_code != 200:
            return TransientFailure(
                error=f"the feed {describe_url(feed_url)} answered HTTP {response.status_code}"
            )

        parsed = self._parse(response)
        if isinstance(parsed, TransientFailure):
            return parsed
        entry = self._find(parsed, target)
        status, problem = self._permalink_status(
            client, (entry_link(entry) or permalink) if entry else permalink, stats
        )
        if status in (404, 410):
            return self._removed(permalink, status, in_feed=entry is not None)
        if entry is None:
            if status is None:
                return TransientFailure(
                    error=f"the entry is no longer in the feed and its permalink could not be "
                    f"checked: {problem}"
                )
            # Until web pages are captured, the entry's page alone is not archived.
            return Unchanged(
                reason=f"the entry is not in the feed {describe_url(feed_url)}; its page "
                "answers, but only entries the feed lists are captured"
            )

        validators = {}
        if response.headers.get("etag"):
            validators["etag"] = response.headers["etag"]
        if response.headers.get("last-modified"):
            validators["last_modified"] = response.headers["last-modified"]
        post = self._post(entry, parsed, target, feed_url)
        post.validators = validators
        # In `source`, not `extra`: a passing network error must not look like a new version.
        post.source = {
            "permalink": {
                "url": entry_link(entry) or permalink,
                "status": status,
                "error": problem,
            },
            "feed": {
                "url": str(response.url),
                "encoding": parsed.get("encoding"),
                "version": parsed.get("version"),
                "feed": plain_json(parsed.get("feed")),
            },
            "entry": plain_json(entry),
        }
        return post

    @staticmethod
    def _removed(permalink: str, status: int, *, in_feed: bool | None) -> Deleted:
        where = {
            True: "although the feed still lists the entry (feeds are often cached)",
            False: "and the entry is no longer in the feed",
            None: "(the feed itself is unchanged since the last poll)",
        }[in_feed]
        return Deleted(
            reason=f"the entry's permalink {describe_url(permalink)} answers HTTP {status} {where}",
            source={"permalink": {"url": permalink, "status": status}},
        )

    @staticmethod
    def _parse(response: httpx.Response) -> Any:
        headers = {"content-location": str(response.url)}
        content_type = response.headers.get("content-type", "")
        if "charset=" in content_type.lower():
            headers["content-type"] = content_type
        parsed = feedparser.parse(
            response.content,
            response_headers=headers,
            sanitize_html=False,
            resolve_relative_uris=True,
        )
        where = describe_url(response.url)
        problem = parsed.get("bozo_exception")
        if isinstance(problem, xml.sax.SAXParseException):
            return TransientFailure(
                error=f"the feed {where} is not well-formed XML: {problem.getMessage()} "
                f"(line {problem.getLineNumber()}, column {problem.getColumnNumber()})"
            )
        if isinstance(problem, feedparser.CharacterEncodingUnknown):
            return TransientFailure(error=f"the feed {where} cannot be decoded: {problem}")
        if not parsed.get("version"):
            return TransientFailure(error=f"{where} is not an RSS or Atom feed")
        return parsed

    @staticmethod
    def _find(parsed: Any, target: CaptureTarget, ignore: frozenset[str] = frozenset()) -> Any:
        """The entry the target names by any of its links or its id (`ignore`: keys that
        name no one entry, such as a podcast's home page given as every episode's link)."""
        wanted = {target.external_id}
        for candidate in (target.external_id, target.url):
            normalised = normalised_url(candidate)
            if normalised:
                wanted.add(normalised)
        wanted -= ignore
        for entry in parsed.entries:
            if not entry_keys(entry).isdisjoint(wanted):
                return entry
        return None

    def _post(self, entry: Any, parsed: Any, target: CaptureTarget, feed_url: str) -> CollectedPost:
        html, text = entry_content(entry)
        summary = summarise_html(html) if html else None
        feed_meta = parsed.get("feed") or {}
        name = entry.get("author") or feed_meta.get("author") or feed_meta.get("title")
        published = struct_time_utc(entry.get("published_parsed"))
        # dict.get: feedparser's own get() answers a missing `updated` with `published`,
        # which would make every entry look edited at its publication time.
        updated = struct_time_utc(dict.get(entry, "updated_parsed"))
        extra: dict[str, Any] = {"feed_title": feed_meta.get("title")}
        categories = [t.get("term") for t in entry.get("tags") or [] if t.get("term")]
        if categories:
            extra["categories"] = categories
        return CollectedPost(
            platform=self.platform,
            post_id=str(entry.get("id") or entry_link(entry) or target.external_id),
            url=entry_link(entry) or target.url,
            author=Author(
                handle=target.account_handle,
                display_name=str(name) if name else None,
                profile_url=feed_meta.get("link") or feed_url,
            ),
            text=text,
            html=html,
            title=entry.get("title") or None,
            language=(entry.get("content") or [{}])[0].get("language") or feed_meta.get("language"),
            created_at=published or updated,
            edited_at=updated if updated is not None and updated != published else None,
            platform_version_id=dict.get(entry, "updated") or entry.get("published"),
            media=entry_media(entry),
            links=summary.links if summary else [],
            hashtags=summary.hashtags if summary else [],
            extra=extra,
        )


def entry_link(entry: Any) -> str | None:
    link = entry.get("link")
    return link if isinstance(link, str) and link else None


def plain_json(value: Any) -> Any:
    """feedparser's dicts, made JSON-safe for `source` (time tuples become ISO strings)."""
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items() if not k.endswith("_parsed")}
    if isinstance(value, list | tuple):
        return [plain_json(v) for v in value]
    if isinstance(value, time.struct_time):
        return struct_time_utc(value).isoformat()  # type: ignore[union-attr]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
