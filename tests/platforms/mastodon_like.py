"""A Mastodon instance on loopback, answering in the shapes of the real recorded responses in
tests/fixtures/mastodon/ (status, history, context, 404 after deletion), with state that tests
change: edit a status, delete it, add replies and media, slow it down, rate-limit it."""

from __future__ import annotations

import datetime as dt
import functools
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.loopback import Loopback, Reply, serve

ACCOUNT_ID = "117020566092212359"


@functools.cache  # the same bytes for a seed: the avatar is served once per capture
def tiny_png(seed: int = 0) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (8, 8), ((seed * 37) % 256, (seed * 91) % 256, 120))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _iso(moment: dt.datetime) -> str:
    return (
        moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{moment.microsecond // 1000:03d}Z"
    )


@dataclass
class Status:
    id: str
    content: str
    created_at: dt.datetime
    edited_at: dt.datetime | None = None
    history: list[tuple[str, dt.datetime]] = field(default_factory=list)
    deleted: bool = False
    media: list[str] = field(default_factory=list)  # file names under /system/media/
    replies: list[dict[str, Any]] = field(default_factory=list)
    reblog_of: dict[str, Any] | None = None


@dataclass
class MastodonInstance:
    username: str = "parks"
    statuses: dict[str, Status] = field(default_factory=dict)
    media_files: dict[str, bytes] = field(default_factory=dict)
    latency: float = 0.0
    rate_limited_until: dt.datetime | None = None
    fail_next: int = 0  # answer this many requests with 503 first
    # Answer status requests badly: "malformed" JSON, a "huge" body, or a "redirect" elsewhere.
    break_with: str | None = None
    redirect_to: str = "http://127.0.0.1:9/"
    loopback: Loopback | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        assert self.loopback is not None
        return self.loopback.base_url

    @property
    def netloc(self) -> str:
        assert self.loopback is not None
        return self.loopback.netloc

    def post_url(self, status_id: str) -> str:
        return f"https://{self.netloc}/@{self.username}/{status_id}"

    def add(self, status_id: str, content: str, *, media: int = 0) -> Status:
        names = []
        for i in range(media):
            name = f"{status_id}-{i}.png"
            self.media_files[name] = tiny_png(int(status_id[-3:] or 0) + i)
            names.append(name)
        status = Status(
            status_id, content, dt.datetime(2026, 8, 1, 13, 54, tzinfo=dt.UTC), media=names
        )
        self.statuses[status_id] = status
        return status

    def edit(self, status_id: str, content: str) -> None:
        status = self.statuses[status_id]
        with self.lock:
            status.history.append((status.content, status.edited_at or status.created_at))
            status.content = content
            status.edited_at = (status.edited_at or status.created_at) + dt.timedelta(minutes=5)

    def reply(self, status_id: str, text: str, reply_id: str) -> None:
        self.statuses[status_id].replies.append({"id": reply_id, "text": text})

    def _account(self) -> dict[str, Any]:
        return {
            "id": ACCOUNT_ID,
            "username": self.username,
            "acct": self.username,
            "display_name": "City Parks",
            "locked": False,
            "bot": False,
            "created_at": "2026-08-01T00:00:00.000Z",
            "note": "",
            "url": f"{self.base}/@{self.username}",
            "uri": f"{self.base}/ap/users/{ACCOUNT_ID}",
            "avatar": f"{self.base}/avatars/original/parks.png",
            "avatar_static": f"{self.base}/avatars/original/parks.png",
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": len(self.statuses),
            "emojis": [],
            "fields": [],
        }

    def _media(self, name: str) -> dict[str, Any]:
        return {
            "id": name.split(".")[0].replace("-", ""),
            "type": "image",
            "url": f"{self.base}/system/media/{name}",
            "preview_url": f"{self.base}/system/media/{name}",
            "remote_url": None,
            "description": f"photo {name}",
            "blurhash": None,
            "meta": {"original": {"width": 8, "height": 8}},
        }

    def _status_json(
        self, status: Status, content: str | None = None, at: dt.datetime | None = None
    ) -> dict[str, Any]:
        return {
            "id": status.id,
            "created_at": _iso(status.created_at),
            "in_reply_to_id": None,
            "in_reply_to_account_id": None,
            "sensitive": False,
            "spoiler_text": "",
            "visibility": "public",
            "language": "en",
            "uri": f"{self.base}/ap/users/{ACCOUNT_ID}/statuses/{status.id}",
            "url": f"{self.base}/@{self.username}/{status.id}",
            "replies_count": len(status.replies),
            "reblogs_count": 0,
            "favourites_count": 0,
            "edited_at": _iso(status.edited_at) if status.edited_at and content is None else None,
            "content": content if content is not None else status.content,
            "reblog": status.reblog_of,
            "application": {"name": "Web", "website": None},
            "account": self._account(),
            "media_attachments": [self._media(n) for n in status.media],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
            "quote": None,
        }

    def _history_json(self, status: Status) -> list[dict[str, Any]]:
        entries = [*status.history, (status.content, status.edited_at or status.created_at)]
        return [
            {
                "content": content,
                "spoiler_text": "",
                "sensitive": False,
                "created_at": _iso(at),
                "account": self._account(),
                "poll": None,
                "media_attachments": [self._media(n) for n in status.media],
                "emojis": [],
            }
            for content, at in entries
        ]

    def _context_json(self, status: Status) -> dict[str, Any]:
        descendants = []
        for reply in status.replies:
            descendants.append(
                {
                    **self._status_json(
                        Status(
                            reply["id"],
                            f"<p>{reply['text']}</p>",
                            status.created_at + dt.timedelta(hours=1),
                        )
                    ),
                    "in_reply_to_id": status.id,
                    "account": {
                        **self._account(),
                        "id": "9" + reply["id"],
                        "username": "resident",
                        "acct": "resident@elsewhere.example",
                        "display_name": "A Resident",
                    },
                }
            )
        return {"ancestors": [], "descendants": descendants}

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        if self.latency:
            time.sleep(self.latency)
        limit_headers = {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "299",
            "X-RateLimit-Reset": _iso(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)),
        }
        with self.lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return Reply(
                    503, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"}
                )
            if self.rate_limited_until and dt.datetime.now(dt.UTC) < self.rate_limited_until:
                return Reply.json(
                    {"error": "Too many requests"},
                    429,
                    {
                        "X-RateLimit-Limit": "300",
                        "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": _iso(self.rate_limited_until),
                    },
                )
        if path.startswith("/system/media/"):
            data = self.media_files.get(path.rsplit("/", 1)[-1])
            return Reply(200, data, {"Content-Type": "image/png"}) if data else Reply(404)
        if path.startswith("/avatars/"):
            return Reply(200, tiny_png(999), {"Content-Type": "image/png"})
        if self.break_with and path.startswith("/api/v1/statuses/"):
            if self.break_with == "malformed":
                return Reply(
                    200, b'{"id": "1", "content": <p>', {"Content-Type": "application/json"}
                )
            if self.break_with == "huge":
                return Reply.json({"id": "1", "content": "x" * 200_000})
            if self.break_with == "redirect":
                return Reply(302, b"", {"Location": self.redirect_to})
        match = re.fullmatch(r"/api/v1/statuses/(\d+)(/history|/context)?", path.split("?")[0])
        if not match or method != "GET":
            return Reply.json({"error": "Record not found"}, 404)
        status = self.statuses.get(match.group(1))
        if status is None or status.deleted:
            return Reply.json({"error": "Record not found"}, 404, limit_headers)
        if match.group(2) == "/history":
            return Reply.json(self._history_json(status), headers=limit_headers)
        if match.group(2) == "/context":
            return Reply.json(self._context_json(status), headers=limit_headers)
        return Reply.json(self._status_json(status), headers=limit_headers)


@contextmanager
def mastodon_instance(**kwargs: Any) -> Iterator[MastodonInstance]:
    instance = MastodonInstance(**kwargs)
    with serve(instance.handle) as loopback:
        instance.loopback = loopback
        yield instance


def as_json(data: Any) -> str:
    return json.dumps(data)
