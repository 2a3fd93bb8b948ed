"""YouTube: a video's public metadata from the Data API v3 (`videos.list`, one quota unit),
and the comments it received (`commentThreads.list`, app/platforms/youtube/comments.py).

`target.external_id` is the 11-character video id. With an API key, `videos.list` returns
no item for a video that was removed and equally for one made private: both mean the video
is no longer publicly visible, so both are reported as Deleted, with a reason saying so.

Quota: a used-up daily quota answers 403 `quotaExceeded`; it resets at midnight Pacific time,
so the host is paused until then. A bad key answers 400 (`keyInvalid`, or `badRequest` with
`API_KEY_INVALID` in the details) and is reported as NotVisible naming the setting.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from app.platforms.collected import (
    AccountGone,
    Author,
    CaptureTarget,
    CollectedPost,
    CollectResult,
    Deleted,
    MediaRef,
    NotVisible,
    RateLimited,
    TransientFailure,
)
from app.platforms.common import error_message, json_body, parse_time
from app.platforms.fetcher import Fetcher, FetchingCollector, FetchSession
from app.platforms.htmltext import find_hashtags, find_urls
from app.platforms.ratelimit import (
    RequestStats,
    host_key,
)
from app.platforms.youtube.comments import QUOTA_UNITS, CommentReader
from app.platforms.youtube.quota import QuotaMeter
from app.platforms.youtube.urls import PLATFORM_ID

PARTS = "snippet,status,contentDetails,statistics"
_VIDEO_ID = re.compile(r"^[A-Za-z0-9_-]{11}$")
_THUMBNAIL_ORDER = ("maxres", "standard", "high", "medium", "default")
_KEY_INVALID = {"keyInvalid", "API_KEY_INVALID", "keyExpired", "API_KEY_EXPIRED"}
_QUOTA = {"quotaExceeded", "dailyLimitExceeded", "rateLimitExceeded", "userRateLimitExceeded"}
_ACCOUNT_REJECTIONS = {"uploaderAccountSuspended", "uploaderAccountClosed"}


def next_pacific_midnight(now: dt.datetime) -> dt.datetime:
    """When YouTube's daily quota resets: the next midnight in America/Los_Angeles, in UTC."""
    try:
        pacific: dt.tzinfo = ZoneInfo("America/Los_Angeles")
    except ZoneInfoNotFoundError:
        # Without a time-zone database, wait for midnight PST: during daylight time that is
        # one hour after the real reset, never before it.
        pacific = dt.timezone(dt.timedelta(hours=-8))
    local = now.astimezone(pacific)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), pacific)
    return midnight.astimezone(dt.UTC)


def _error_reasons(body: Any) -> set[str]:
    """Every `reason` in a Google API error answer (errors[] and details[])."""
    reasons: set[str] = set()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return reasons
    for item in error.get("errors") or []:
        if isinstance(item, dict) and isinstance(item.get("reason"), str):
            reasons.add(item["reason"])
    for item in error.get("details") or []:
        if isinstance(item, dict) and isinstance(item.get("reason"), str):
            reasons.add(item["reason"])
    return reasons


def _largest_thumbnail(thumbnails: Any) -> MediaRef | None:
    if not isinstance(thumbnails, dict):
        return None
    candidates = [t for t in thumbnails.values() if isinstance(t, dict) and t.get("url")]
    if not candidates:
        return None

    def area(item: dict[str, Any]) -> int:
        width, height = item.get("width"), item.get("height")
        return width * height if isinstance(width, int) and isinstance(height, int) else 0

    best = max(candidates, key=area)
    if area(best) == 0:  # no sizes given: YouTube's own order of names
        best = next(thumbnails[name] for name in _THUMBNAIL_ORDER if name in thumbnails)
    return MediaRef(
        url=best["url"],
        role="thumbnail",
        width=best.get("width") if isinstance(best.get("width"), int) else None,
        height=best.get("height") if isinstance(best.get("height"), int) else None,
    )


class YouTubeCollector(FetchingCollector):
    platform = PLATFORM_ID
    version = f"{PLATFORM_ID}/1"

    def __init__(
        self,
        *,
        api_url: str,
        api_key: str | None,
        fetcher: Fetcher | None = None,
        quota: QuotaMeter | None = None,
    ) -> None:
        super().__init__(fetcher)
        self.api_url = api_url.rstrip("/")
        self.api_key = api_key
        self.quota = quota or QuotaMeter()  # without a database: counted per poll only

    def collect(self, target: CaptureTarget, client: httpx.Client) -> CollectResult:
        return self.fetcher.run(client, lambda http: self._collect(target, client, http.stats))

    def _collect(
        self, target: CaptureTarget, client: httpx.Client, stats: RequestStats
    ) -> CollectResult:
        if not self.api_key:
            return NotVisible(
                reason="no YouTube API key is configured: set POSTVAULT_YOUTUBE_API_KEY"
            )
        video_id = target.external_id.strip()
        if not _VIDEO_ID.match(video_id):
            return TransientFailure(error=f"'{video_id}' is not a YouTube video id")
        url = f"{self.api_url}/videos"
        before = stats.requests
        try:
            return self._video(target, client, stats, video_id, url, self.api_key)
        finally:
            # Every call the poll sent costs a unit (failed ones too): one videos.list and
            # the comment pages; the day's total is shared by every worker (quota.py).
            calls = stats.requests - before
            self.quota.add(calls * QUOTA_UNITS["videos.list"], calls, self.fetcher.clock())

    def _video(
        self,
        target: CaptureTarget,
        client: httpx.Client,
        stats: RequestStats,
        video_id: str,
        url: str,
        key: str,
    ) -> CollectResult:
        response = self.fetcher.session(client, stats).get(
            url,
            params={"part": PARTS, "id": video_id, "key": key},
            headers={"Accept": "application/json"},
        )
        body = json_body(response, "videos.list")
        if response.status_code != 200:
            return self._error(response.status_code, body, url)
        items = body.get("items") if isinstance(body, dict) else None
        if not isinstance(items, list):
            return TransientFailure(error="the videos.list answer has no list of items")
        if not items:
            return Deleted(
                reason="YouTube returns no video for this id: the video was removed or made "
                "private (the API does not say which); it is no longer publicly visible",
                source={"videos.list": body},
            )
        video = items[0]
        result = self._post(video, body, target)
        if isinstance(result, CollectedPost):
            self._comments(result, video_id, self.fetcher.session(client, stats))
        return result

    def _comments(self, post: CollectedPost, video_id: str, http: FetchSession) -> None:
        """The comments the video received, as its replies (app/platforms/youtube/comments.py):
        whatever happens to them, the video's own capture stands."""
        assert self.api_key is not None
        reader = CommentReader(
            http,
            self.api_url,
            self.api_key,
            self.limiter,
            next_pacific_midnight,
            self.fetcher.clock,
        )
        found = reader.read(video_id)
        post.replies = found.replies
        post.replies_captured = found.captured
        if found.disabled:
            post.extra["comments"] = "comments are turned off for this video"
        if found.error:
            post.extra["comments_error"] = found.error
        if found.truncated:
            post.extra["comments_note"] = f"only the first {len(found.replies)} comments were read"
        # Quota: one unit per call (videos.list and each comments page), kept with the source.
        post.source["commentThreads.list"] = found.pages
        post.source["quota_units"] = QUOTA_UNITS["videos.list"] + found.quota_units

    def _error(self, status: int, body: Any, url: str) -> CollectResult:
        reasons = _error_reasons(body)
        message = error_message(body) or f"HTTP {status}"
        if status == 403 and reasons & _QUOTA:
            now = self.fetcher.clock()
            retry_at = next_pacific_midnight(now)
            host = host_key(url)
            self.limiter.pause(host, retry_at)
            return RateLimited(
                host=host,
                retry_at=retry_at,
                reason=f"the YouTube API quota is used up ({', '.join(sorted(reasons))}); "
                "it resets at midnight Pacific time",
            )
        if reasons & _KEY_INVALID or (status == 400 and "api key" in message.lower()):
            return NotVisible(
                reason=f"YouTube rejected the API key ({message}): check POSTVAULT_YOUTUBE_API_KEY"
            )
        if status in (401, 403):
            return NotVisible(
                reason=f"YouTube refused the request (HTTP {status}: {message}); check that "
                "the YouTube Data API is enabled for POSTVAULT_YOUTUBE_API_KEY"
            )
        return TransientFailure(error=f"videos.list answered HTTP {status}: {message}")

    def _post(self, video: Any, body: Any, target: CaptureTarget) -> CollectResult:
        snippet = video.get("snippet") or {}
        status = video.get("status") or {}
        details = video.get("contentDetails") or {}
        if (
            status.get("uploadStatus") == "rejected"
            and status.get("rejectionReason") in _ACCOUNT_REJECTIONS
        ):
            return AccountGone(
                reason=f"YouTube rejected the video: {status['rejectionReason']}",
                source={"videos.list": body},
            )
        description = str(snippet.get("description") or "")
        channel_id = snippet.get("channelId")
        extra: dict[str, Any] = {}
        for key in (
            "uploadStatus",
            "rejectionReason",
            "failureReason",
            "license",
            "embeddable",
            "madeForKids",
        ):
            if key in status:
                extra[key] = status[key]
        for key in ("duration", "definition", "caption", "licensedContent"):
            if key in details:
                extra[key] = details[key]
        if snippet.get("tags"):
            extra["tags"] = snippet["tags"]
        if snippet.get("liveBroadcastContent") not in (None, "none"):
            extra["liveBroadcastContent"] = snippet["liveBroadcastContent"]
        expected = target.account_platform_id or (
            target.account_handle if target.account_handle.startswith("UC") else None
        )
        if expected and channel_id and channel_id != expected:
            extra["warning"] = (
                f"the video belongs to channel {channel_id} ({snippet.get('channelTitle')}), "
                f"not the registered channel {expected}"
            )
        thumbnail = _largest_thumbnail(snippet.get("thumbnails"))
        video_id = str(video.get("id") or target.external_id)
        return CollectedPost(
            platform=self.platform,
            post_id=video_id,
            url=f"https://www.youtube.com/watch?v={video_id}",
            author=Author(
                handle=target.account_handle,
                display_name=snippet.get("channelTitle") or None,
                platform_id=channel_id,
                profile_url=f"https://www.youtube.com/channel/{channel_id}" if channel_id else None,
            ),
            text=description,
            title=snippet.get("title") or None,
            language=snippet.get("defaultLanguage") or snippet.get("defaultAudioLanguage"),
            created_at=parse_time(snippet.get("publishedAt")),
            # The API exposes no edit time, and the resource's etag also changes with the
            # view counts, so there is no version id: versions are told apart by content.
            platform_version_id=None,
            visibility=status.get("privacyStatus"),
            media=[thumbnail] if thumbnail else [],
            links=find_urls(description),
            hashtags=find_hashtags(description),
            extra=extra,
            source={"videos.list": body},
        )
