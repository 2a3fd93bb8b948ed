"""YouTube comments: the records a video received, from `commentThreads.list`.

`commentThreads.list?part=snippet,replies&videoId=` pages through the top-level comments
(`nextPageToken`), each with up to five of its replies inline; a thread whose
`totalReplyCount` is larger is completed with `comments.list?parentId=` (paged too). Every
call costs one quota unit (QUOTA_UNITS), counted per poll and archived with the source.

Outcomes, none of them a failure of the video's capture:
- 403 `commentsDisabled`: the video takes no comments; captured with none, and says so;
- a used-up quota (403 `quotaExceeded`): the API host is paused until the quota resets and the
  version is marked "comments could not be fetched";
- any other error, a malformed answer, a 429: marked the same way, with the reason.

A comment's `likeCount` changes all the time: it stays in the source, never in the
normalised reply, so it is not part of the version's hash.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from app.platforms.collected import Author, Reply
from app.platforms.common import Abort, error_message, json_body, parse_time
from app.platforms.fetcher import FetchSession
from app.platforms.ratelimit import HostLimiter, HostPaused, TransientHTTPError, host_key

THREAD_PARTS = "snippet,replies"
PAGE_SIZE = "100"  # the API's largest page
MAX_THREAD_PAGES = 20  # 2,000 top-level comments a poll at most
MAX_REPLY_PAGES = 5
INLINE_REPLIES = 5  # commentThreads.list returns at most this many replies per thread
QUOTA_UNITS = {"videos.list": 1, "commentThreads.list": 1, "comments.list": 1}
_QUOTA = {"quotaExceeded", "dailyLimitExceeded", "rateLimitExceeded", "userRateLimitExceeded"}


@dataclass
class Comments:
    """What one poll found of a video's comments."""

    replies: list[Reply] = field(default_factory=list)
    captured: bool = True
    disabled: bool = False
    truncated: bool = False
    error: str | None = None
    pages: list[Any] = field(default_factory=list)  # the raw answers, for the source
    quota_units: int = 0


def reasons_of(body: Any) -> set[str]:
    error = body.get("error") if isinstance(body, dict) else None
    found: set[str] = set()
    if isinstance(error, dict):
        for item in [*(error.get("errors") or []), *(error.get("details") or [])]:
            if isinstance(item, dict) and isinstance(item.get("reason"), str):
                found.add(item["reason"])
    return found


def _author(snippet: dict[str, Any]) -> Author:
    channel = snippet.get("authorChannelId")
    channel_id = channel.get("value") if isinstance(channel, dict) else None
    name = str(snippet.get("authorDisplayName") or "")
    return Author(
        handle=name if name.startswith("@") else (channel_id or name or "unknown"),
        display_name=name or None,
        platform_id=channel_id,
        profile_url=snippet.get("authorChannelUrl") or None,
        avatar_url=snippet.get("authorProfileImageUrl") or None,
    )


def _reply(comment: Any, video_id: str, parent: str | None) -> Reply | None:
    if not isinstance(comment, dict) or not comment.get("id"):
        return None
    snippet = comment.get("snippet") or {}
    comment_id = str(comment["id"])
    return Reply(
        id=comment_id,
        url=f"https://www.youtube.com/watch?v={video_id}&lc={comment_id}",
        author=_author(snippet),
        text=str(snippet.get("textOriginal") or ""),
        html=snippet.get("textDisplay") or None,
        created_at=parse_time(snippet.get("publishedAt")),
        in_reply_to_id=parent,
    )


class CommentReader:
    """Reads a video's comments with one FetchSession, for one poll."""

    def __init__(
        self,
        http: FetchSession,
        api_url: str,
        api_key: str,
        limiter: HostLimiter,
        quota_reset: Callable[[dt.datetime], dt.datetime],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.http = http
        self.api_url = api_url
        self.api_key = api_key
        self.limiter = limiter
        self.quota_reset = quota_reset
        self.clock = clock

    def read(self, video_id: str) -> Comments:
        found = Comments()
        try:
            self._threads(video_id, found)
        except _Stop as stop:
            found.captured = stop.disabled
            found.disabled = stop.disabled
            found.error = None if stop.disabled else stop.reason
        except (HostPaused, TransientHTTPError) as exc:
            found.captured, found.error = False, str(exc)
        except Abort as exc:
            found.captured = False
            found.error = getattr(exc.result, "error", None) or str(exc)
        if not found.captured or found.disabled:
            found.replies = []  # no partial list: the version says the comments are missing
        return found

    def _call(self, method: str, params: dict[str, str], found: Comments) -> Any:
        path = "commentThreads" if method == "commentThreads.list" else "comments"
        url = f"{self.api_url}/{path}"
        found.quota_units += QUOTA_UNITS[method]
        response = self.http.get(
            url, params={**params, "key": self.api_key}, headers={"Accept": "application/json"}
        )
        body = json_body(response, method)
        found.pages.append(
            {"method": method, "params": params, "status": response.status_code, "body": body}
        )
        if response.status_code != 200:
            raise self._stop(response, body, url, method)
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            raise _Stop(f"the {method} answer has no list of items")
        return body

    def _stop(self, response: httpx.Response, body: Any, url: str, method: str) -> _Stop:
        reasons = reasons_of(body)
        message = error_message(body) or f"HTTP {response.status_code}"
        if "commentsDisabled" in reasons:
            return _Stop("comments are turned off for this video", disabled=True)
        if response.status_code == 403 and reasons & _QUOTA:
            retry_at = self.quota_reset(self.clock())
            self.limiter.pause(host_key(url), retry_at)
            return _Stop(
                f"the YouTube API quota is used up ({', '.join(sorted(reasons))}); the comments "
                f"are fetched again after it resets at {retry_at.isoformat(timespec='minutes')}"
            )
        return _Stop(f"{method} answered HTTP {response.status_code}: {message}")

    def _threads(self, video_id: str, found: Comments) -> None:
        token: str | None = None
        for _page in range(MAX_THREAD_PAGES):
            params = {"part": THREAD_PARTS, "videoId": video_id, "maxResults": PAGE_SIZE}
            params.update({"textFormat": "html"})
            if token:
                params["pageToken"] = token
            body = self._call("commentThreads.list", params, found)
            for thread in body["items"]:
                self._thread(thread, video_id, found)
            token = (
                body.get("nextPageToken") if isinstance(body.get("nextPageToken"), str) else None
            )
            if not token:
                return
        found.truncated = True

    def _thread(self, thread: Any, video_id: str, found: Comments) -> None:
        snippet = thread.get("snippet") if isinstance(thread, dict) else None
        if not isinstance(snippet, dict):
            return
        top = _reply(snippet.get("topLevelComment"), video_id, None)
        if top is None:
            return
        found.replies.append(top)
        inline = ((thread.get("replies") or {}).get("comments")) or []
        replies = [r for r in (_reply(c, video_id, top.id) for c in inline) if r is not None]
        total = snippet.get("totalReplyCount")
        if isinstance(total, int) and total > len(replies):
            replies = self._all_replies(top.id, video_id, found)
        found.replies.extend(sorted(replies, key=lambda r: (r.created_at is None, r.created_at)))

    def _all_replies(self, parent: str, video_id: str, found: Comments) -> list[Reply]:
        replies: list[Reply] = []
        token: str | None = None
        for _page in range(MAX_REPLY_PAGES):
            params = {"part": "snippet", "parentId": parent, "maxResults": PAGE_SIZE}
            params.update({"textFormat": "html"})
            if token:
                params["pageToken"] = token
            body = self._call("comments.list", params, found)
            replies += [r for r in (_reply(c, video_id, parent) for c in body["items"]) if r]
            token = (
                body.get("nextPageToken") if isinstance(body.get("nextPageToken"), str) else None
            )
            if not token:
                return replies
        found.truncated = True
        return replies


class _Stop(Exception):
    def __init__(self, reason: str, *, disabled: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.disabled = disabled
