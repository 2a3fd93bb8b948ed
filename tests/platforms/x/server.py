"""A loopback X API v2 built from the recordings in tests/fixtures/x/.

It serves what the X collector asks for, in the recorded shapes:
- GET /2/tweets/:id with `tweet.fields`, `expansions`, `user.fields`, `media.fields` honoured
  the way X does (only `id`, `text`, `edit_history_tweet_ids` unless asked; `includes` built
  from the expansions, every version of an edited tweet included for
  `edit_history_tweet_ids`);
- GET /2/tweets?ids=a,b (the versions of an edit chain);
- GET /2/tweets/search/recent?query=conversation_id:<id> [OR conversation_id:<id>] with
  `max_results` (10-100), `next_token` pages, and X's 7-day window on the server's clock;
- a deleted tweet answers 200 with only a "Not Found Error" problem (what X answers); a
  referenced tweet that is gone is a partial error next to `data`; a protected author's
  tweet is an "Authorization Error"; a suspended author's is a "Forbidden" problem;
- `x-rate-limit-limit/remaining/reset` on every answer, per endpoint, and a 429 "Too Many
  Requests" once a window is used up;
- `script[route]`: answers served first, in order (429s, 5xx, truncated or malformed bodies);
- media hosts (pbs.twimg.com, video.twimg.com, abs.twimg.com) are rewritten to
  /<host>/... on this server and answer small JPEG / MP4 bodies.
`reads` counts the tweet objects served (what X counts against the monthly cap).
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import json
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.collectors.servers import Answer, LoopbackServer, Request

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "x"
TOKEN = "test-bearer-token"
SEARCH_WINDOW = dt.timedelta(days=7)
MEDIA_HOSTS = ("pbs.twimg.com", "video.twimg.com", "abs.twimg.com")
_ALWAYS_TWEET = ("id", "text", "edit_history_tweet_ids")
_ALWAYS_USER = ("id", "name", "username")
_ALWAYS_MEDIA = ("media_key", "type")
_CONVERSATION = re.compile(r"conversation_id:(\d{1,20})")
_TWEET = re.compile(r"^/2/tweets/(\d{1,20})$")
SNOWFLAKE_EPOCH_MS = 1288834974657
NOT_FOUND_TYPE = "https://api.twitter.com/2/problems/resource-not-found"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def parse_iso(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def tiny_jpeg(seed: int = 0) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), ((seed * 53) % 256, 90, 160)).save(out, format="JPEG")
    return out.getvalue()


def tiny_mp4() -> bytes:
    """An ISO BMFF `ftyp` box followed by an empty `mdat`: enough to be a video/mp4 file."""
    ftyp = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"
    return ftyp + b"\x00\x00\x00\x08mdat"


def problem(tweet_id: str, *, parameter: str = "id", kind: str = "not_found") -> dict[str, Any]:
    """X's problem objects, in the shape of the recorded partial errors."""
    if kind == "not_found":
        return {
            "value": tweet_id,
            "detail": f"Could not find tweet with {parameter}: [{tweet_id}].",
            "title": "Not Found Error",
            "resource_type": "tweet",
            "parameter": parameter,
            "resource_id": tweet_id,
            "type": NOT_FOUND_TYPE,
        }
    if kind == "not_authorized":
        return {
            "value": tweet_id,
            "detail": f"Sorry, you are not authorized to see the Tweet with {parameter}: [{tweet_id}].",
            "title": "Authorization Error",
            "resource_type": "tweet",
            "parameter": parameter,
            "resource_id": tweet_id,
            "type": "https://api.twitter.com/2/problems/not-authorized-for-resource",
            "section": "data",
        }
    return {
        "value": tweet_id,
        "detail": f"User has been suspended: [{tweet_id}].",
        "title": "Forbidden",
        "resource_type": "user",
        "parameter": parameter,
        "resource_id": tweet_id,
        "type": "https://api.twitter.com/2/problems/resource-not-found",
    }


class XApi:
    """The loopback X API; `with XApi() as api:` serves it on 127.0.0.1:<free port>."""

    def __init__(
        self,
        *,
        now: dt.datetime = dt.datetime(2022, 10, 3, 18, 30, tzinfo=dt.UTC),
        lookup_limit: int = 300,
        search_limit: int = 450,
        window: dt.timedelta = dt.timedelta(minutes=15),
    ) -> None:
        self.now = now
        self.clock: Callable[[], dt.datetime] = lambda: self.now
        self.token: str | None = TOKEN
        self.tweets: dict[str, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.media: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.protected_users: set[str] = set()
        self.suspended_users: set[str] = set()
        self.script: dict[str, list[Answer]] = {}
        self.include_versions = True  # False: includes leave out the other versions
        self.limits = {"lookup": lookup_limit, "search": search_limit}
        self.window = window
        self._used: dict[str, int] = {"lookup": 0, "search": 0}
        self._reset: dict[str, dt.datetime] = {}
        self.reads = 0
        self.media_requests = 0
        self._index: dict[str, list[dict[str, Any]]] = {}
        self._index_size = -1
        self._lock = threading.Lock()
        self._sequence = 0
        self.server = LoopbackServer(self._app)

    # --- setup ------------------------------------------------------------------------------

    def load_recording(self, name: str) -> dict[str, Any]:
        """Add every tweet, user and media object of a recorded answer; returns its body."""
        recorded = load(name)
        body: dict[str, Any] = recorded["body"]
        data = body.get("data")
        includes = body.get("includes") or {}
        for tweet in [
            *(data if isinstance(data, list) else [data] if data else []),
            *includes.get("tweets", []),
        ]:
            self.tweets.setdefault(str(tweet["id"]), copy.deepcopy(tweet))
        for user in includes.get("users", []):
            self.users.setdefault(str(user["id"]), copy.deepcopy(user))
        for media in includes.get("media", []):
            self.media.setdefault(str(media["media_key"]), copy.deepcopy(media))
        return body

    def new_id(self, at: dt.datetime | None = None) -> str:
        """A snowflake id, as X makes them: the time in ms since X's epoch, then a sequence."""
        millis = int((at or self.now).timestamp() * 1000) - SNOWFLAKE_EPOCH_MS
        with self._lock:
            self._sequence = (self._sequence + 1) % (1 << 22)
            return str((millis << 22) | self._sequence)

    def add_user(self, user_id: str, username: str, name: str | None = None) -> None:
        self.users[user_id] = {
            "id": user_id,
            "username": username,
            "name": name or username,
            "protected": False,
            "verified": False,
            "profile_image_url": f"https://pbs.twimg.com/profile_images/{user_id}/a_normal.jpg",
            "public_metrics": {"followers_count": 10, "following_count": 1, "tweet_count": 1},
        }

    def add_tweet(
        self,
        text: str,
        *,
        author_id: str,
        created_at: dt.datetime | None = None,
        tweet_id: str | None = None,
        conversation_id: str | None = None,
        replied_to: str | None = None,
        quoted: str | None = None,
        retweeted: str | None = None,
        media_keys: list[str] | None = None,
    ) -> str:
        tweet_id = tweet_id or self.new_id(created_at)
        refs = [
            {"type": kind, "id": ref}
            for kind, ref in (
                ("replied_to", replied_to),
                ("quoted", quoted),
                ("retweeted", retweeted),
            )
            if ref
        ]
        tweet: dict[str, Any] = {
            "id": tweet_id,
            "text": text,
            "edit_history_tweet_ids": [tweet_id],
            "author_id": author_id,
            "created_at": iso(created_at or self.now),
            "conversation_id": conversation_id or tweet_id,
            "lang": "en",
            "possibly_sensitive": False,
            "reply_settings": "everyone",
            "public_metrics": {
                "retweet_count": 0,
                "reply_count": 0,
                "like_count": 0,
                "quote_count": 0,
            },
            "edit_controls": {
                "edits_remaining": "5",
                "is_edit_eligible": not refs,
                "editable_until": iso((created_at or self.now) + dt.timedelta(hours=1)),
            },
        }
        if refs:
            tweet["referenced_tweets"] = refs
        if replied_to and replied_to in self.tweets:
            tweet["in_reply_to_user_id"] = self.tweets[replied_to]["author_id"]
        if media_keys:
            tweet["attachments"] = {"media_keys": media_keys}
        self.tweets[tweet_id] = tweet
        return tweet_id

    def add_photo(self, media_key: str, *, alt_text: str | None = None) -> str:
        self.media[media_key] = {
            "media_key": media_key,
            "type": "photo",
            "url": f"https://pbs.twimg.com/media/{media_key}.jpg",
            "width": 4,
            "height": 4,
            **({"alt_text": alt_text} if alt_text else {}),
        }
        return media_key

    def add_video(self, media_key: str, *, kind: str = "video") -> str:
        """A video with an HLS playlist and three MP4 variants (the shape of X's media)."""
        base = f"https://video.twimg.com/ext_tw_video/{media_key}/pu/vid"
        self.media[media_key] = {
            "media_key": media_key,
            "type": kind,
            "duration_ms": 4000,
            "width": 1280,
            "height": 720,
            "preview_image_url": f"https://pbs.twimg.com/ext_tw_video_thumb/{media_key}/pu/img/p.jpg",
            "variants": [
                {"content_type": "application/x-mpegURL", "url": f"{base}/pl/playlist.m3u8"},
                {"bit_rate": 256000, "content_type": "video/mp4", "url": f"{base}/480x270/low.mp4"},
                {
                    "bit_rate": 2176000,
                    "content_type": "video/mp4",
                    "url": f"{base}/1280x720/high.mp4",
                },
                {"bit_rate": 832000, "content_type": "video/mp4", "url": f"{base}/640x360/mid.mp4"},
            ],
        }
        return media_key

    def edit(self, tweet_id: str, new_text: str, *, at: dt.datetime | None = None) -> str:
        """Edit a tweet the way X does: a new tweet id joins the chain of every version."""
        old = self.tweets[tweet_id]
        chain = list(old.get("edit_history_tweet_ids") or [tweet_id])
        new = copy.deepcopy(self.tweets[chain[-1]])
        new_id = self.new_id(at)
        new.update(id=new_id, text=new_text, created_at=iso(at or self.now), conversation_id=new_id)
        new.pop("entities", None)
        chain.append(new_id)
        self.tweets[new_id] = new
        for version in chain:
            self.tweets[version]["edit_history_tweet_ids"] = list(chain)
            controls = self.tweets[version].setdefault("edit_controls", {})
            controls["edits_remaining"] = str(max(0, 5 - (len(chain) - 1)))
        return new_id

    def delete(self, tweet_id: str) -> None:
        for version in self.tweets[tweet_id].get("edit_history_tweet_ids") or [tweet_id]:
            self.deleted.add(version)

    # --- serving ----------------------------------------------------------------------------

    def _rewrite(self, body: Any) -> bytes:
        text = json.dumps(body)
        for host in MEDIA_HOSTS:
            text = text.replace(f"https://{host}/", f"{self.server.base_url}/{host}/")
        return text.encode()

    def _json(
        self, body: Any, status: int = 200, headers: list[tuple[str, str]] | None = None
    ) -> Answer:
        return Answer(
            status,
            [("Content-Type", "application/json; charset=utf-8"), *(headers or [])],
            self._rewrite(body),
        )

    def _limit(self, endpoint: str) -> tuple[bool, list[tuple[str, str]]]:
        """Count a request against its endpoint's window; (allowed, x-rate-limit headers)."""
        now = self.clock()
        with self._lock:
            reset = self._reset.get(endpoint)
            if reset is None or now >= reset:
                reset = now + self.window
                self._reset[endpoint] = reset
                self._used[endpoint] = 0
            self._used[endpoint] += 1
            limit = self.limits[endpoint]
            remaining = max(0, limit - self._used[endpoint])
            allowed = self._used[endpoint] <= limit
        headers = [
            ("x-rate-limit-limit", str(limit)),
            ("x-rate-limit-remaining", str(remaining)),
            ("x-rate-limit-reset", str(int(reset.timestamp()))),
        ]
        return allowed, headers

    def exhaust(self, endpoint: str) -> None:
        """Use up an endpoint's window (the next request is a 429)."""
        self._limit(endpoint)
        with self._lock:
            self._used[endpoint] = self.limits[endpoint]

    def _conversation(self, root: str) -> list[dict[str, Any]]:
        """The tweets of a conversation (an index rebuilt when tweets were added)."""
        with self._lock:
            if self._index_size != len(self.tweets):
                index: dict[str, list[dict[str, Any]]] = {}
                for tweet in list(self.tweets.values()):
                    index.setdefault(str(tweet.get("conversation_id")), []).append(tweet)
                self._index, self._index_size = index, len(self.tweets)
            return list(self._index.get(root, []))

    def _visible(self, tweet_id: str) -> str | None:
        """None when the tweet can be served, else the kind of problem it is."""
        tweet = self.tweets.get(tweet_id)
        if tweet is None or tweet_id in self.deleted:
            return "not_found"
        author = str(tweet.get("author_id"))
        if author in self.suspended_users:
            return "suspended"
        if author in self.protected_users:
            return "not_authorized"
        return None

    @staticmethod
    def _fields(query: dict[str, list[str]], name: str) -> set[str]:
        return {f for value in query.get(name, []) for f in value.split(",") if f}

    def _shape(
        self, obj: dict[str, Any], always: tuple[str, ...], asked: set[str]
    ) -> dict[str, Any]:
        return {k: copy.deepcopy(v) for k, v in obj.items() if k in always or k in asked}

    def _page(
        self, data: list[dict[str, Any]], query: dict[str, list[str]], *, main_param: str
    ) -> dict[str, Any]:
        """`data` shaped by the requested fields, `includes` by the expansions, `errors` for
        referenced tweets that cannot be served."""
        tweet_fields = self._fields(query, "tweet.fields")
        user_fields = self._fields(query, "user.fields")
        media_fields = self._fields(query, "media.fields")
        expansions = self._fields(query, "expansions")
        users: dict[str, dict[str, Any]] = {}
        tweets: dict[str, dict[str, Any]] = {}
        media: dict[str, dict[str, Any]] = {}
        errors: list[dict[str, Any]] = []

        def add_user(user_id: Any) -> None:
            user = self.users.get(str(user_id))
            if user is not None:
                users.setdefault(str(user_id), self._shape(user, _ALWAYS_USER, user_fields))

        def add_media(tweet: dict[str, Any]) -> None:
            for key in (tweet.get("attachments") or {}).get("media_keys") or []:
                if key in self.media:
                    media.setdefault(key, self._shape(self.media[key], _ALWAYS_MEDIA, media_fields))

        def add_tweet(tweet_id: str, parameter: str) -> dict[str, Any] | None:
            kind = self._visible(tweet_id)
            if kind is not None:
                errors.append(problem(tweet_id, parameter=parameter, kind=kind))
                return None
            tweets.setdefault(
                tweet_id, self._shape(self.tweets[tweet_id], _ALWAYS_TWEET, tweet_fields)
            )
            return self.tweets[tweet_id]

        for tweet in data:
            if "author_id" in expansions:
                add_user(tweet.get("author_id"))
            if "in_reply_to_user_id" in expansions and tweet.get("in_reply_to_user_id"):
                add_user(tweet["in_reply_to_user_id"])
            if "attachments.media_keys" in expansions:
                add_media(tweet)
            if "referenced_tweets.id" in expansions:
                for ref in tweet.get("referenced_tweets") or []:
                    included = add_tweet(str(ref["id"]), "referenced_tweets.id")
                    if included is not None:
                        if "referenced_tweets.id.author_id" in expansions:
                            add_user(included.get("author_id"))
                        if "attachments.media_keys" in expansions:
                            add_media(included)
            if "edit_history_tweet_ids" in expansions and self.include_versions:
                for version in tweet.get("edit_history_tweet_ids") or []:
                    if version != tweet["id"]:
                        add_tweet(str(version), "edit_history_tweet_ids")
                        if "attachments.media_keys" in expansions and version in self.tweets:
                            add_media(self.tweets[version])
        body: dict[str, Any] = {}
        if data:
            body["data"] = [self._shape(t, _ALWAYS_TWEET, tweet_fields) for t in data]
        includes: dict[str, Any] = {}
        if users:
            includes["users"] = list(users.values())
        if tweets:
            includes["tweets"] = list(tweets.values())
        if media:
            includes["media"] = list(media.values())
        if includes:
            body["includes"] = includes
        if errors:
            body["errors"] = errors
        self.reads += len(data) + len(tweets)
        return body

    def _lookup(self, ids: list[str], query: dict[str, list[str]], *, single: bool) -> Answer:
        allowed, headers = self._limit("lookup")
        if not allowed:
            return self._too_many(headers)
        served: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        parameter = "id" if single else "ids"
        for tweet_id in ids:
            kind = self._visible(tweet_id)
            if kind is None:
                served.append(self.tweets[tweet_id])
            else:
                errors.append(problem(tweet_id, parameter=parameter, kind=kind))
        body = self._page(served, query, main_param=parameter)
        if errors:
            body["errors"] = errors + body.get("errors", [])
            self.reads += 0 if served else 1
        if single and "data" in body:
            body["data"] = body["data"][0]
        return self._json(body, 200, headers)

    def _search(self, query: dict[str, list[str]]) -> Answer:
        allowed, headers = self._limit("search")
        if not allowed:
            return self._too_many(headers)
        text = (query.get("query") or [""])[0]
        roots = set(_CONVERSATION.findall(text))
        raw_max = (query.get("max_results") or ["10"])[0]
        if not roots:
            return self._invalid("query", text, "The query must name a conversation_id", headers)
        if not raw_max.isdigit() or not 10 <= int(raw_max) <= 100:
            return self._invalid(
                "max_results",
                raw_max,
                f"The `max_results` query parameter value [{raw_max}] is not between 10 and 100",
                headers,
            )
        since = self.clock() - SEARCH_WINDOW
        candidates = [t for root in roots for t in self._conversation(root)]
        found = sorted(
            (
                t
                for t in candidates
                if str(t.get("conversation_id")) in roots
                and t["id"] not in roots
                and self._visible(t["id"]) is None
                and parse_iso(t["created_at"]) >= since
            ),
            key=lambda t: int(t["id"]),
            reverse=True,  # X answers newest first
        )
        offset = int((query.get("next_token") or ["0"])[0] or 0)
        page = found[offset : offset + int(raw_max)]
        body = self._page(page, query, main_param="query")
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta["newest_id"], meta["oldest_id"] = page[0]["id"], page[-1]["id"]
        if offset + len(page) < len(found):
            meta["next_token"] = str(offset + len(page))
        body["meta"] = meta
        self.reads += 0 if page else 1
        return self._json(body, 200, headers)

    def _too_many(self, headers: list[tuple[str, str]]) -> Answer:
        return self._json(
            {
                "title": "Too Many Requests",
                "detail": "Too Many Requests",
                "type": "about:blank",
                "status": 429,
            },
            429,
            headers,
        )

    def _invalid(
        self, name: str, value: str, message: str, headers: list[tuple[str, str]]
    ) -> Answer:
        body = {
            "errors": [{"parameters": {name: [value]}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        }
        return self._json(body, 400, headers)

    def _app(self, request: Request) -> Answer:
        queued = self.script.get(request.route)
        if queued:
            return queued.pop(0)
        for host in MEDIA_HOSTS:
            if request.route.startswith(f"/{host}/"):
                self.media_requests += 1
                if request.route.endswith(".mp4"):
                    return Answer(200, [("Content-Type", "video/mp4")], tiny_mp4())
                return Answer(200, [("Content-Type", "image/jpeg")], tiny_jpeg(len(request.route)))
        if (
            self.token is not None
            and request.headers.get("authorization") != f"Bearer {self.token}"
        ):
            return self._json(
                {
                    "title": "Unauthorized",
                    "type": "about:blank",
                    "status": 401,
                    "detail": "Unauthorized",
                },
                401,
            )
        query = parse_qs(urlsplit(request.path).query)
        if request.route == "/2/tweets/search/recent":
            return self._search(query)
        if request.route == "/2/tweets":
            ids = [i for value in query.get("ids", []) for i in value.split(",") if i]
            return self._lookup(ids, query, single=False)
        match = _TWEET.match(request.route)
        if match:
            return self._lookup([match.group(1)], query, single=True)
        return self._json(
            {"title": "Not Found", "type": "about:blank", "status": 404, "detail": "Not Found"}, 404
        )

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def __enter__(self) -> XApi:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


def recorded_edit_chain(api: XApi) -> tuple[str, str]:
    """The recorded edited tweet (original, edit) and the recorded reply to the edit."""
    api.load_recording("twarc_tweet_lookup_edited_before")
    api.load_recording("twarc_tweet_lookup_edited_after")
    api.load_recording("twarc_tweet_lookup_quoted_edit")
    return "1576994746135764992", "1576994789110992896"
