"""The pure reading of recorded X API v2 answers into CollectedPost."""

from __future__ import annotations

import copy
import datetime as dt

import pytest

from app.collectors.versioning import content_hash
from app.platforms.x import parse
from tests.platforms.x.server import load

ORIGINAL, EDIT = "1576994746135764992", "1576994789110992896"


def answer(name: str) -> parse.Answer:
    return parse.read_answer(load(name)["body"])


def test_edited_tweet_reads_every_version_oldest_first() -> None:
    post = parse.build_post(EDIT, answer("twarc_tweet_lookup_edited_after"))
    assert post.platform == "x"
    assert post.post_id == ORIGINAL  # the chain's first id names the post across edits
    assert post.platform_version_id == EDIT
    assert post.text == "hey :) https://twitter.com/i/web/status/1576994789110992896"
    assert post.created_at == dt.datetime(2022, 10, 3, 17, 57, 1, tzinfo=dt.UTC)
    assert post.edited_at == dt.datetime(2022, 10, 3, 17, 57, 11, tzinfo=dt.UTC)
    assert post.author.handle == "wongmjane"
    assert post.author.platform_id == "337119125"
    assert post.url == f"https://x.com/wongmjane/status/{EDIT}"
    assert [v.platform_version_id for v in post.history] == [ORIGINAL]
    first = post.history[0]
    assert first.edited_at is None
    assert first.created_at == post.created_at
    # The photo link is the photo, not text; the other t.co link is expanded.
    assert (
        first.text
        == "i miss y’all so much haha,,, https://twitter.com/i/web/status/1576994746135764992"
    )
    assert post.extra["edit_history_tweet_ids"] == [ORIGINAL, EDIT]


def test_photo_with_alt_text_is_media() -> None:
    post = parse.build_post(ORIGINAL, answer("twarc_tweet_lookup_edited_before"))
    # Asked for the original: the answer's includes hold the newer version, which is current.
    assert post.platform_version_id == EDIT
    original = post.history[0]
    assert [(m.url, m.role, m.alt_text, m.width) for m in original.media] == [
        (
            "https://pbs.twimg.com/media/FeKcHsVaUAEYpU_.jpg",
            "image",
            "selfie of me with memoji",
            1536,
        )
    ]


def test_quote_and_reply_are_context_and_the_quote_link_is_not_text() -> None:
    post = parse.build_post("1576995594388000768", answer("twarc_tweet_lookup_quoted_edit"))
    assert post.quote_of is not None
    assert post.quote_of.author.handle == "wongmjane"
    assert post.quote_of.url == f"https://x.com/wongmjane/status/{ORIGINAL}"
    assert post.text == "@wongmjane Test"
    assert post.reply_to == f"https://x.com/wongmjane/status/{EDIT}"
    assert post.extra["mentions"] == ["wongmjane"]


def test_retweet_is_a_repost_with_nothing_added() -> None:
    post = parse.build_post("1394735776701816833", answer("twarc_search_all_page"))
    assert post.repost_of is not None
    assert post.repost_of.author.handle == "bibaigna96"
    assert post.repost_of.text == "#POIUYTREWQ"
    assert post.text == ""
    assert post.media == []
    assert post.extra["repost_text"] == "RT @bibaigna96: #POIUYTREWQ"


def test_entities_unescaped_links_unwound_and_place_kept() -> None:
    post = parse.build_post("1501963039859363843", answer("twarc_tweet_lookup_geo_place"))
    assert "Fields & Expansions" in post.text
    assert post.links == ["https://twarc-project.readthedocs.io/en/latest/twarc2_en_us/"]
    assert post.extra["geo"] == {"place_id": "3078869807f9dd36"}


def test_public_metrics_do_not_change_the_version_hash() -> None:
    body = load("twarc_tweet_lookup_edited_after")["body"]
    busier = copy.deepcopy(body)
    for tweet in [busier["data"][0], *busier["includes"]["tweets"]]:
        tweet["public_metrics"] = {
            "retweet_count": 900,
            "reply_count": 80,
            "like_count": 7000,
            "quote_count": 5,
        }
        tweet["edit_controls"]["edits_remaining"] = "3"
    busier["includes"]["users"][0]["public_metrics"]["followers_count"] = 1
    before = parse.build_post(EDIT, parse.read_answer(body))
    after = parse.build_post(EDIT, parse.read_answer(busier))
    assert content_hash(before) == content_hash(after)
    changed = copy.deepcopy(busier)
    changed["data"][0]["text"] = "hey :( https://t.co/rnwEIoNuqd"
    changed["includes"]["tweets"][1]["text"] = changed["data"][0]["text"]
    assert content_hash(parse.build_post(EDIT, parse.read_answer(changed))) != content_hash(before)


def test_video_keeps_the_highest_bit_rate_mp4_and_its_preview() -> None:
    body = {
        "data": {
            "id": "1",
            "text": "clip",
            "attachments": {"media_keys": ["7_1"]},
            "edit_history_tweet_ids": ["1"],
        },
        "includes": {
            "media": [
                {
                    "media_key": "7_1",
                    "type": "video",
                    "preview_image_url": "https://pbs.twimg.com/thumb.jpg",
                    "variants": [
                        {
                            "content_type": "application/x-mpegURL",
                            "url": "https://video.twimg.com/pl.m3u8",
                        },
                        {
                            "bit_rate": 256000,
                            "content_type": "video/mp4",
                            "url": "https://video.twimg.com/low.mp4",
                        },
                        {
                            "bit_rate": 2176000,
                            "content_type": "video/mp4",
                            "url": "https://video.twimg.com/high.mp4",
                        },
                    ],
                }
            ]
        },
    }
    post = parse.build_post("1", parse.read_answer(body))
    assert [(m.url, m.role) for m in post.media] == [
        ("https://video.twimg.com/high.mp4", "video"),
        ("https://pbs.twimg.com/thumb.jpg", "thumbnail"),
    ]


def test_problems_tell_the_requested_tweet_from_referenced_ones() -> None:
    deleted = parse.read_answer(
        {"errors": [{"value": "5", "detail": "Could not find tweet with id: [5].", "title": "Not Found Error",
                     "resource_type": "tweet", "parameter": "id", "resource_id": "5",
                     "type": "https://api.twitter.com/2/problems/resource-not-found"}]}
    )  # fmt: skip
    found = deleted.problem_for("5")
    assert found is not None
    assert parse.classify_problem(found) == "deleted"
    partial = parse.read_answer(
        {"data": {"id": "6", "text": "quoting", "referenced_tweets": [{"type": "quoted", "id": "5"}]},
         "errors": [{"value": "5", "detail": "Could not find tweet with referenced_tweets.id: [5].",
                     "title": "Not Found Error", "resource_type": "tweet",
                     "parameter": "referenced_tweets.id", "resource_id": "5",
                     "type": "https://api.twitter.com/2/problems/resource-not-found"}]}
    )  # fmt: skip
    assert partial.problem_for("6") is None
    post = parse.build_post("6", partial)
    assert post.quote_of is not None
    assert post.quote_of.author.handle == "unknown"
    assert post.extra["partial_errors"] == [
        "Not Found Error: Could not find tweet with referenced_tweets.id: [5]."
    ]


@pytest.mark.parametrize(
    "body",
    [[], "text", {"data": 5}, {"data": {"text": "no id"}}, {"data": {"id": "1"}}, {"includes": {}}],
)
def test_malformed_answers_are_refused(body: object) -> None:
    with pytest.raises(parse.MalformedAnswer):
        parse.read_answer(body)


def test_replies_from_a_search_page() -> None:
    page = parse.read_answer(load("twarc_tweet_lookup_quoted_edit")["body"])
    replies = parse.replies_of({ORIGINAL, EDIT}, page)
    assert [(r.id, r.author.handle, r.in_reply_to_id) for r in replies] == [
        ("1576995594388000768", "dappdavid99", None)
    ]
