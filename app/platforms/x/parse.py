"""X API v2 answers into CollectedPost: pure functions, no I/O.

An answer of `GET /2/tweets/:id` (or `/2/tweets?ids=`, or a search page) is
`{"data": ..., "includes": {"tweets", "users", "media"}, "errors": [...], "meta": {...}}`.
`errors` holds "problems" (RFC 7807-like objects with `title`, `detail`, `type`,
`resource_type`, `parameter`, `resource_id`/`value`): one about the requested tweet itself
(`parameter` `id` or `ids`) is the answer about that tweet; one about a referenced tweet
(`parameter` `referenced_tweets.id`, ...) is a *partial error* and says nothing about the
requested tweet.

What is content (hashed, compared between polls) and what is not: `public_metrics` (likes,
reposts, replies, impressions) change all the time and stay in `source` only; so do
`edit_controls.edits_remaining` and the user's follower counts.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from typing import Any, Literal

from app.platforms.collected import Author, CollectedPost, EmbeddedPost, MediaRef, Reply

PLATFORM = "x"

# What a record needs, asked for by name (X returns only `id`, `text` and
# `edit_history_tweet_ids` unless fields are requested).
TWEET_FIELDS = (
    "attachments,author_id,conversation_id,created_at,edit_controls,edit_history_tweet_ids,"
    "entities,in_reply_to_user_id,lang,note_tweet,possibly_sensitive,public_metrics,"
    "referenced_tweets,reply_settings,withheld"
)
EXPANSIONS = (
    "author_id,attachments.media_keys,edit_history_tweet_ids,in_reply_to_user_id,"
    "referenced_tweets.id,referenced_tweets.id.author_id"
)
USER_FIELDS = "id,name,username,profile_image_url,protected,verified,withheld"
MEDIA_FIELDS = "media_key,type,url,preview_image_url,variants,alt_text,width,height,duration_ms"
SEARCH_EXPANSIONS = (
    "author_id,attachments.media_keys"  # no tweets in includes: a page reads its size
)

LOOKUP_PARAMS = {
    "tweet.fields": TWEET_FIELDS,
    "expansions": EXPANSIONS,
    "user.fields": USER_FIELDS,
    "media.fields": MEDIA_FIELDS,
}
SEARCH_PARAMS = {
    "tweet.fields": TWEET_FIELDS,
    "expansions": SEARCH_EXPANSIONS,
    "user.fields": USER_FIELDS,
    "media.fields": MEDIA_FIELDS,
}

# Problems about the requested tweet that mean "not there for anyone": the tweet is deleted
# (or never existed). X uses the same "Not Found Error" for both.
_NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"
_NOT_AUTHORIZED = "https://api.twitter.com/2/problems/not-authorized-for-resource"


class MalformedAnswer(ValueError):
    """The answer is JSON but not in the shape of an X API v2 answer."""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse_time(value: Any) -> dt.datetime | None:
    """X writes `2022-10-03T17:57:01.000Z`."""
    text = _str(value)
    if text is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


@dataclass
class Problem:
    """One entry of an answer's `errors`."""

    title: str
    detail: str
    type: str
    resource_type: str | None
    parameter: str | None
    resource_id: str | None

    @classmethod
    def of(cls, item: Any) -> Problem:
        item = _dict(item)
        return cls(
            title=str(item.get("title") or ""),
            detail=str(item.get("detail") or item.get("message") or ""),
            type=str(item.get("type") or ""),
            resource_type=_str(item.get("resource_type")),
            parameter=_str(item.get("parameter")),
            resource_id=_str(item.get("resource_id")) or _str(item.get("value")),
        )

    @property
    def is_about_requested_tweet(self) -> bool:
        # A suspended author's tweet is answered with a problem about the user, still
        # under the request's own `id` parameter.
        return self.parameter in (None, "id", "ids")

    def describe(self) -> str:
        return f"{self.title}: {self.detail}" if self.detail else self.title


ProblemKind = Literal["deleted", "not_visible", "account_gone", "other"]


def classify_problem(problem: Problem) -> ProblemKind:
    text = f"{problem.title} {problem.detail} {problem.type}".lower()
    if "suspended" in text or problem.resource_type == "user" and "not found" in text:
        return "account_gone"
    if problem.type == _NOT_FOUND or problem.title == "Not Found Error":
        return "deleted"
    if problem.type == _NOT_AUTHORIZED or problem.title in ("Authorization Error", "Forbidden"):
        return "not_visible"
    return "other"


@dataclass
class Answer:
    """An X API v2 answer, indexed by id."""

    body: dict[str, Any]
    data: list[dict[str, Any]]
    tweets: dict[str, dict[str, Any]] = field(default_factory=dict)  # data and includes.tweets
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)

    def merge(self, other: Answer) -> None:
        """Add another answer's objects (a second lookup, a further page)."""
        for key, value in other.tweets.items():
            self.tweets.setdefault(key, value)
        for key, value in other.users.items():
            self.users.setdefault(key, value)
        for key, value in other.media.items():
            self.media.setdefault(key, value)

    def problem_for(self, tweet_id: str) -> Problem | None:
        about = [p for p in self.problems if p.is_about_requested_tweet]
        for problem in about:
            if problem.resource_id == tweet_id:
                return problem
        # A single lookup: a problem under its `id` parameter is about that tweet even when
        # it names the author instead.
        return about[0] if about and tweet_id not in self.tweets else None

    def partial_problems(self) -> list[Problem]:
        return [p for p in self.problems if not p.is_about_requested_tweet]

    @property
    def reads(self) -> int:
        """What X counts against the monthly cap, counted generously: every tweet object in
        the answer (data and included), and at least one for the request."""
        return max(1, len(self.tweets))


def read_answer(body: Any) -> Answer:
    """Index an answer; MalformedAnswer when it is not shaped like one."""
    if not isinstance(body, dict):
        raise MalformedAnswer("the answer is not a JSON object")
    raw_data = body.get("data")
    if raw_data is None:
        data: list[dict[str, Any]] = []
    elif isinstance(raw_data, dict):
        data = [raw_data]
    elif isinstance(raw_data, list):
        data = [item for item in raw_data if isinstance(item, dict)]
    else:
        raise MalformedAnswer("the answer's `data` is neither an object nor a list")
    if raw_data is None and "errors" not in body and "meta" not in body:
        raise MalformedAnswer("the answer has neither `data` nor `errors`")
    for item in data:
        if not _str(item.get("id")):
            raise MalformedAnswer("a tweet in the answer has no id")
        if not isinstance(item.get("text"), str):
            raise MalformedAnswer(f"tweet {item.get('id')} in the answer has no text")
    includes = _dict(body.get("includes"))
    answer = Answer(
        body=body,
        data=data,
        problems=[Problem.of(item) for item in _list(body.get("errors"))],
        meta=_dict(body.get("meta")),
    )
    for item in [*data, *_list(includes.get("tweets"))]:
        if isinstance(item, dict) and _str(item.get("id")):
            answer.tweets.setdefault(str(item["id"]), item)
    for item in _list(includes.get("users")):
        if isinstance(item, dict) and _str(item.get("id")):
            answer.users[str(item["id"])] = item
    for item in _list(includes.get("media")):
        if isinstance(item, dict) and _str(item.get("media_key")):
            answer.media[str(item["media_key"])] = item
    return answer


# --- pieces of a tweet ----------------------------------------------------------------------


def status_url(username: str | None, tweet_id: str) -> str:
    return f"https://x.com/{username or 'i/web'}/status/{tweet_id}"


def author_of(user: dict[str, Any] | None, author_id: str | None) -> Author:
    user = user or {}
    username = _str(user.get("username"))
    return Author(
        handle=username or (f"id:{author_id}" if author_id else "unknown"),
        display_name=_str(user.get("name")),
        platform_id=_str(user.get("id")) or author_id,
        profile_url=f"https://x.com/{username}" if username else None,
        avatar_url=_str(user.get("profile_image_url")),
    )


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _best_variant(media: dict[str, Any]) -> dict[str, Any] | None:
    """The MP4 with the highest bit rate (HLS playlists are not files to keep)."""
    mp4s = [
        v
        for v in _list(media.get("variants"))
        if isinstance(v, dict) and _str(v.get("url")) and v.get("content_type") == "video/mp4"
    ]
    if not mp4s:
        return None
    return max(mp4s, key=lambda v: _int(v.get("bit_rate")))


def media_of(tweet: dict[str, Any], answer: Answer) -> tuple[list[MediaRef], list[str]]:
    """The tweet's attachments as media refs, and notes on any that cannot be kept."""
    refs: list[MediaRef] = []
    notes: list[str] = []
    for key in _list(_dict(tweet.get("attachments")).get("media_keys")):
        media = answer.media.get(str(key))
        if media is None:
            notes.append(f"media {key} is not in the answer")
            continue
        kind = media.get("type")
        alt = _str(media.get("alt_text"))
        width = media.get("width") if isinstance(media.get("width"), int) else None
        height = media.get("height") if isinstance(media.get("height"), int) else None
        if kind == "photo" and _str(media.get("url")):
            refs.append(
                MediaRef(url=media["url"], role="image", alt_text=alt, width=width, height=height)
            )
            continue
        if kind in ("video", "animated_gif"):
            best = _best_variant(media)
            if best is not None:
                refs.append(
                    MediaRef(
                        url=best["url"],
                        role="video" if kind == "video" else "gifv",
                        mime_type="video/mp4",
                        alt_text=alt,
                        width=width,
                        height=height,
                    )
                )
            else:
                notes.append(f"{kind} {key} has no MP4 variant to download")
            if _str(media.get("preview_image_url")):
                refs.append(MediaRef(url=media["preview_image_url"], role="thumbnail"))
            continue
        notes.append(f"media {key} of type {kind!r} has no URL to download")
    return refs, notes


def _text_and_entities(tweet: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    note = _dict(tweet.get("note_tweet"))
    if isinstance(note.get("text"), str):  # a long post: the full text is in note_tweet
        return note["text"], _dict(note.get("entities"))
    return str(tweet.get("text") or ""), _dict(tweet.get("entities"))


def text_of(
    tweet: dict[str, Any], *, hide_status_ids: set[str] | None = None
) -> tuple[str, list[str], list[str]]:
    """Plain text with each t.co link replaced by the link it stands for; media links and the
    link to a quoted tweet are removed (X shows those as the media and the quote). Returns
    (text, links, hashtags)."""
    raw, entities = _text_and_entities(tweet)
    hidden = hide_status_ids or set()
    urls = sorted(
        (u for u in _list(entities.get("urls")) if isinstance(u, dict) and _str(u.get("url"))),
        key=lambda u: -len(str(u["url"])),
    )
    links: list[str] = []
    text = raw
    for item in sorted(
        (u for u in _list(entities.get("urls")) if isinstance(u, dict) and _str(u.get("url"))),
        key=lambda u: _int(u.get("start")),
    ):
        expanded = _str(item.get("unwound_url")) or _str(item.get("expanded_url")) or item["url"]
        if item.get("media_key") or any(f"/status/{i}" in expanded for i in hidden):
            continue
        if expanded not in links:
            links.append(expanded)
    for item in urls:
        expanded = _str(item.get("unwound_url")) or _str(item.get("expanded_url")) or item["url"]
        drop = bool(item.get("media_key")) or any(f"/status/{i}" in expanded for i in hidden)
        text = text.replace(item["url"], "" if drop else expanded)
    hashtags = [
        str(tag["tag"])
        for tag in _list(entities.get("hashtags"))
        if isinstance(tag, dict) and _str(tag.get("tag"))
    ]
    return html.unescape(text).strip(), links, list(dict.fromkeys(hashtags))


def _referenced(tweet: dict[str, Any], kind: str) -> str | None:
    for ref in _list(tweet.get("referenced_tweets")):
        if isinstance(ref, dict) and ref.get("type") == kind and _str(ref.get("id")):
            return str(ref["id"])
    return None


def embedded_of(tweet_id: str, answer: Answer) -> EmbeddedPost:
    """A quoted or reposted tweet as context; a bare reference when X did not include it."""
    tweet = answer.tweets.get(tweet_id)
    if tweet is None:
        return EmbeddedPost(
            url=status_url(None, tweet_id), uri=tweet_id, author=Author(handle="unknown")
        )
    author_id = _str(tweet.get("author_id"))
    user = answer.users.get(author_id or "")
    author = author_of(user, author_id)
    text, _links, _tags = text_of(tweet)
    media, _notes = media_of(tweet, answer)
    return EmbeddedPost(
        url=status_url(_str((user or {}).get("username")), tweet_id),
        uri=tweet_id,
        author=author,
        text=text,
        created_at=parse_time(tweet.get("created_at")),
        media=media,
    )


def edit_chain(tweet: dict[str, Any]) -> list[str]:
    """The ids of every version of the tweet, oldest first (a tweet never edited: itself)."""
    ids = [str(i) for i in _list(tweet.get("edit_history_tweet_ids")) if _str(i)]
    return ids or [str(tweet["id"])]


def missing_versions(chain: list[str], answer: Answer, seen_up_to: str | None) -> list[str]:
    """The version ids the archive needs and the answer lacks: those after the last version
    already archived (`seen_up_to`, a version id), or all of them on a first capture."""
    start = chain.index(seen_up_to) + 1 if seen_up_to in chain else 0
    return [i for i in chain[start:] if i not in answer.tweets]


# --- the post -------------------------------------------------------------------------------


def _version(
    tweet: dict[str, Any], answer: Answer, chain: list[str], original_created: dt.datetime | None
) -> CollectedPost:
    tweet_id = str(tweet["id"])
    author_id = _str(tweet.get("author_id"))
    user = answer.users.get(author_id or "")
    username = _str((user or {}).get("username"))
    extra: dict[str, Any] = {}

    repost_id = _referenced(tweet, "retweeted")
    quote_id = _referenced(tweet, "quoted")
    reply_id = _referenced(tweet, "replied_to")
    hidden = {quote_id} if quote_id else set()
    text, links, hashtags = text_of(tweet, hide_status_ids=hidden)
    media, notes = media_of(tweet, answer)
    if notes:
        extra["media_notes"] = notes
    repost_of = embedded_of(repost_id, answer) if repost_id else None
    if repost_of is not None:
        # "RT @name: …" is X's truncated rendering of the reposted tweet, not added text.
        extra["repost_text"] = text
        text, links, hashtags, media = "", [], [], []
    quote_of = embedded_of(quote_id, answer) if quote_id else None
    reply_to = None
    if reply_id:
        parent = answer.tweets.get(reply_id)
        parent_user = answer.users.get(
            str((parent or {}).get("author_id") or tweet.get("in_reply_to_user_id") or "")
        )
        reply_to = status_url(_str((parent_user or {}).get("username")), reply_id)
    for key in ("conversation_id", "reply_settings", "possibly_sensitive", "withheld", "geo"):
        if tweet.get(key) not in (None, "", False, {}):
            extra[key] = tweet[key]
    controls = _dict(tweet.get("edit_controls"))
    if controls.get("editable_until"):
        extra["editable_until"] = controls["editable_until"]
    if len(chain) > 1:
        extra["edit_history_tweet_ids"] = chain
    mentions = [
        str(m["username"])
        for m in _list(_dict(tweet.get("entities")).get("mentions"))
        if isinstance(m, dict) and _str(m.get("username"))
    ]
    if mentions:
        extra["mentions"] = mentions
    created = parse_time(tweet.get("created_at"))
    is_edit = tweet_id != chain[0]
    return CollectedPost(
        platform=PLATFORM,
        post_id=chain[0],
        url=status_url(username, tweet_id),
        author=author_of(user, author_id),
        text=text,
        language=_str(tweet.get("lang")),
        # Every version of an edited tweet is its own tweet with its own time: the post was
        # created with the first, each later one is an edit made at its own created_at.
        created_at=original_created if is_edit and original_created else created,
        edited_at=created if is_edit else None,
        platform_version_id=tweet_id,
        visibility="public",
        media=media,
        reply_to=reply_to,
        repost_of=repost_of,
        quote_of=quote_of,
        links=links,
        hashtags=hashtags,
        extra=extra,
    )


def build_post(requested_id: str, answer: Answer) -> CollectedPost:
    """The current version of the requested tweet, with every earlier version the answer
    holds as `history` (oldest first). The requested id may be any version of the chain."""
    requested = answer.tweets.get(requested_id)
    if requested is None:
        raise MalformedAnswer(f"the answer does not contain tweet {requested_id}")
    chain = edit_chain(requested)
    if requested_id not in chain:
        chain = [requested_id]
    present = [i for i in chain if i in answer.tweets]
    original = answer.tweets.get(chain[0])
    original_created = parse_time(original.get("created_at")) if original else None
    versions = [_version(answer.tweets[i], answer, chain, original_created) for i in present]
    current = versions[-1]
    current.history = versions[:-1]
    missing = [i for i in chain if i not in answer.tweets]
    if missing:
        current.extra["versions_not_served"] = missing
    partial = answer.partial_problems()
    if partial:
        current.extra["partial_errors"] = [p.describe() for p in partial]
    return current


def replies_of(root_ids: set[str], answer: Answer) -> list[Reply]:
    """Replies from recent-search pages on `conversation_id:<root>`, oldest first."""
    replies: list[Reply] = []
    for tweet in answer.data:
        tweet_id = str(tweet["id"])
        if tweet_id in root_ids:
            continue
        author_id = _str(tweet.get("author_id"))
        user = answer.users.get(author_id or "")
        parent = _referenced(tweet, "replied_to")
        text, _links, _tags = text_of(tweet)
        media, _notes = media_of(tweet, answer)
        replies.append(
            Reply(
                id=tweet_id,
                url=status_url(_str((user or {}).get("username")), tweet_id),
                author=author_of(user, author_id),
                text=text,
                created_at=parse_time(tweet.get("created_at")),
                in_reply_to_id=None if parent is None or parent in root_ids else parent,
                media=media,
            )
        )
    replies.sort(key=lambda r: (r.created_at or dt.datetime.min.replace(tzinfo=dt.UTC), r.id))
    return replies
