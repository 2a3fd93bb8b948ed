"""Property tests for version hashing: the same content hashes the same whatever the volatile
parts say; any change a person would see makes a new version."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from app.collectors.versioning import content_hash, describe_change
from app.platforms.collected import Author, CollectedPost, MediaRef, Reply

texts = st.text(max_size=200)
shas = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)


def post(
    text: str,
    media: list[str],
    replies: list[str],
    source: dict[str, Any] | None = None,
    urls: list[str] | None = None,
    avatar: str | None = None,
) -> CollectedPost:
    return CollectedPost(
        platform="mastodon",
        post_id="1",
        url="https://city.example/@a/1",
        author=Author(handle="a@city.example", avatar_url=avatar),
        text=text,
        created_at=dt.datetime(2026, 6, 1, tzinfo=dt.UTC),
        media=[
            MediaRef(
                url=(urls or [])[i] if urls and i < len(urls) else f"https://cdn.example/{i}",
                sha256=sha,
            )
            for i, sha in enumerate(media)
        ],
        replies=[
            Reply(id=str(i), author=Author(handle="r@x.example"), text=r)
            for i, r in enumerate(replies)
        ],
        source=source or {},
    )


@settings(max_examples=200)
@given(
    texts,
    st.lists(shas, max_size=3),
    st.lists(texts, max_size=3),
    st.dictionaries(st.text(max_size=10), st.integers()),
    st.lists(st.text(max_size=30), max_size=3),
    st.one_of(st.none(), st.text(max_size=30)),
)
def test_volatile_parts_never_change_the_hash(
    text: str,
    media: list[str],
    replies: list[str],
    source: dict[str, Any],
    urls: list[str],
    avatar: str | None,
) -> None:
    base = post(text, media, replies)
    noisy = post(text, media, replies, source=source, urls=urls, avatar=avatar)
    assert content_hash(base) == content_hash(noisy)


@settings(max_examples=200)
@given(texts, texts, st.lists(shas, max_size=3), st.lists(texts, max_size=3))
def test_text_changes_make_a_new_version(
    a: str, b: str, media: list[str], replies: list[str]
) -> None:
    first, second = post(a, media, replies), post(b, media, replies)
    assert (content_hash(first) == content_hash(second)) == (a == b)
    if a != b:
        assert "text changed" in describe_change(first, second)


@given(texts, st.lists(shas, min_size=1, max_size=3), shas)
def test_media_bytes_and_replies_are_content(text: str, media: list[str], other: str) -> None:
    original = post(text, media, [])
    swapped = post(text, [other, *media[1:]], [])
    assert (content_hash(original) == content_hash(swapped)) == (media[0] == other)
    replied = post(text, media, ["a new reply"])
    assert content_hash(replied) != content_hash(original)
    assert "1 new reply" in describe_change(original, replied)
