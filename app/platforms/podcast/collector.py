"""Podcasts: an episode found in its podcast's RSS feed, with its show notes, its `itunes:`
facts and its audio file.

The account's feed URL is `target.account_profile_url`. Each poll GETs the feed (with the
validators of the last poll) and finds the episode by its link, its guid or the flagged page;
a feed that pages its episodes (`atom:link rel="next"`) is read on, up to MAX_PAGES pages.
Parsing is the blog feed collector's (app/platforms/feed): the same encoding rules, the same
refusal of a document that is not well-formed.

Outcomes:
- feed 304 → Unchanged;
- episode in the feed → CollectedPost: show notes (content:encoded, else the description) as
  the text, the episode and season numbers, duration, episode type in `extra`, and the
  enclosure as an `audio` MediaRef, which the capture pipeline streams to the store with its
  SHA-256 (app/collectors/media.py; over POSTVAULT_MAX_MEDIA_BYTES it is not archived and the
  version says so);
- episode no longer in a feed that parsed → Deleted: a podcast removes an episode by taking it
  out of its feed (the audio URL and the page may live on for a while); a feed that lists no
  episode at all is a TransientFailure, not the removal of every episode;
- feed 404/410 → AccountGone (the podcast's feed is gone); 401/403 → NotVisible (a private
  feed); 429 → RateLimited until its Retry-After / reset header (app/platforms/ratelimit.py);
- feed not well-formed (truncated), not a feed, or other statuses → TransientFailure: no
  removal is ever decided on a document that could not be read.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import httpx

from app.platforms.collected import (
    AccountGone,
    CaptureTarget,
    CollectedPost,
    CollectResult,
    Deleted,
    NotVisible,
    TransientFailure,
    Unchanged,
)
from app.platforms.feed.collector import FeedCollector, entry_media, normalised_url, plain_json
from app.platforms.fetcher import Fetcher
from app.platforms.http import describe_url
from app.platforms.podcast import parse
from app.platforms.podcast.urls import PLATFORM_ID
from app.platforms.ratelimit import RequestStats

MAX_PAGES = 5
PARSED_FEEDS_KEPT = 8
ACCEPT = "application/rss+xml, application/xml;q=0.9, application/atom+xml;q=0.8, */*;q=0.5"


class PodcastCollector(FeedCollector):
    platform = PLATFORM_ID
    version = f"{PLATFORM_ID}/1"

    def __init__(self, fetcher: Fetcher | None = None) -> None:
        super().__init__(fetcher)
        # A show's feed lists every episode, and each flagged episode reads it: the same
        # bytes are parsed once (feedparser takes ~4 ms an item), never served stale (the key
        # is the bytes' hash, so an edited feed is parsed anew).
        self._parsed: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def _parse(self, response: httpx.Response) -> Any:  # type: ignore[override]
        key = (
            hashlib.sha256(response.content).hexdigest(),
            str(response.url),
            response.headers.get("content-type", ""),
        )
        with self._lock:
            if key in self._parsed:
                self._parsed.move_to_end(key)
                return self._parsed[key]
        parsed = FeedCollector._parse(response)
        if not isinstance(parsed, TransientFailure):
            with self._lock:
                self._parsed[key] = parsed
                while len(self._parsed) > PARSED_FEEDS_KEPT:
                    self._parsed.popitem(last=False)
        return parsed

    def _collect(
        self, target: CaptureTarget, client: httpx.Client, stats: RequestStats
    ) -> CollectResult:
        feed_url = target.account_profile_url or target.account_handle
        headers = {"Accept": ACCEPT}
        if target.validators.get("etag"):
            headers["If-None-Match"] = target.validators["etag"]
        if target.validators.get("last_modified"):
            headers["If-Modified-Since"] = target.validators["last_modified"]
        response = self._get(client, feed_url, stats, headers)
        if response.status_code == 304:
            return Unchanged(reason="the podcast's feed is unchanged since the last poll")
        refused = self._refused(response, feed_url)
        if refused is not None:
            return refused
        parsed = self._parse(response)
        if isinstance(parsed, TransientFailure):
            return parsed
        first_page, pages = parsed, [str(response.url)]
        seen_entries = [parsed.entries]
        ignore = self._home_pages(parsed)
        entry = self._find(parsed, target, ignore)
        while entry is None and len(pages) < MAX_PAGES:
            next_url = _next_page(parsed)
            if next_url is None or next_url in pages:
                break
            page = self._get(client, next_url, stats, {"Accept": ACCEPT})
            if page.status_code != 200:
                return TransientFailure(
                    error=f"page {len(pages) + 1} of the podcast's feed "
                    f"{describe_url(next_url)} answered HTTP {page.status_code}"
                )
            parsed = self._parse(page)
            if isinstance(parsed, TransientFailure):
                return parsed
            pages.append(next_url)
            seen_entries.append(parsed.entries)
            entry = self._find(parsed, target, ignore)
        if entry is None and not any(len(p) for p in seen_entries):
            # A show does not remove every episode at once; a CMS serving an empty feed does.
            return TransientFailure(
                error=f"the podcast's feed {describe_url(feed_url)} lists no episodes at all: "
                "not taken as the removal of this one"
            )
        if entry is None:
            return Deleted(
                reason=f"the episode is no longer in the podcast's feed {describe_url(feed_url)}"
                + (f" ({len(pages)} pages read)" if len(pages) > 1 else ""),
                source={"podcast_feed": {"url": feed_url, "pages": pages}},
            )
        post = self._episode(entry, first_page, target, feed_url)
        if post.url in ignore or normalised_url(post.url) in ignore:
            post.url = target.url  # the show's home page is no episode's address
        post.validators = {
            key: response.headers[header]
            for key, header in (("etag", "etag"), ("last_modified", "last-modified"))
            if response.headers.get(header)
        }
        post.source = {
            "podcast_feed": {
                "url": str(response.url),
                "pages": pages,
                "encoding": first_page.get("encoding"),
                "version": first_page.get("version"),
                "channel": plain_json(_channel(first_page)),
            },
            "entry": plain_json(entry),
        }
        return post

    @staticmethod
    def _refused(response: httpx.Response, feed_url: str) -> CollectResult | None:
        status = response.status_code
        where = describe_url(feed_url)
        if status in (404, 410):
            return AccountGone(
                reason=f"the podcast's feed {where} answers HTTP {status}: the podcast is gone "
                "or moved (register its new feed)"
            )
        if status in (401, 403):
            return NotVisible(reason=f"the podcast's feed {where} answers HTTP {status}: private")
        if status != 200:
            return TransientFailure(error=f"the podcast's feed {where} answered HTTP {status}")
        return None

    @staticmethod
    def _home_pages(parsed: Any) -> frozenset[str]:
        """The show's own page: some feeds give it as every episode's link, so it names none."""
        link = _channel(parsed).get("link")
        found = {link, normalised_url(link)} if isinstance(link, str) and link else set()
        return frozenset(v for v in found if v)

    def _episode(
        self, entry: Any, parsed: Any, target: CaptureTarget, feed_url: str
    ) -> CollectedPost:
        post = self._post(entry, parsed, target, feed_url)
        feed_meta = _channel(parsed)
        post.extra.update(parse.episode_facts(entry, feed_meta))
        post.media = parse.episode_media(entry, entry_media(entry))
        if post.author.display_name is None and feed_meta.get("itunes_author"):
            post.author.display_name = str(feed_meta["itunes_author"])
        if parse.enclosure(entry) is None:
            post.extra["audio_note"] = "the feed names no audio file for this episode"
        return post


def _next_page(parsed: Any) -> str | None:
    for link in _channel(parsed).get("links") or []:
        if link.get("rel") == "next" and isinstance(link.get("href"), str):
            return str(link["href"])
    return None


def _channel(parsed: Any) -> Any:
    """The feed's own elements (the RSS <channel>): feedparser's `feed` attribute."""
    return parsed.feed or {}  # feedparser always sets it
