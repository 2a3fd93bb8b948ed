"""Tumblr answers into captures, straight from the recordings (legacy shape, as recorded),
and Tumblr's per-window rate-limit headers."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from app.classification.config import ClassifierConfig
from app.classification.crosspost_index import InMemoryCrossPostIndex
from app.classification.models import Label
from app.classification.rules import PostContext, RuleId, classify
from app.collectors.versioning import content_hash
from app.platforms.collected import CollectedPost
from app.platforms.ratelimit import HostLimiter, remaining_from_headers, retry_at_from_headers
from app.platforms.tumblr import PLATFORM, npf, parse
from tests.platforms.tumblr.server import PAGE_IDS, PHOTO_ID, TumblrApi, load, to_npf

NOW = dt.datetime(2026, 12, 2, 1, 0, tzinfo=dt.UTC)


def recorded(name: str) -> tuple[parse.Answer, list[dict[str, object]]]:
    answer = parse.read_answer(load(name)["body"])
    return answer, answer.response["posts"]


def test_the_recorded_legacy_photo_post() -> None:
    answer, [raw] = recorded("mooserific_post_legacy_photo")
    post = parse.build_post(raw, answer.response["blog"])
    assert post.post_id == PHOTO_ID
    assert [m.width for m in post.media] == [960, 1280, 1280, 960, 960]
    assert all(m.url.endswith("_1280.jpg") for m in post.media)
    assert post.text.startswith("Gwen and Josie’s first day of kindergarten!")
    assert post.repost_of is None  # its trail holds only itself (is_current_item)
    assert post.extra["type"] == "photo"


def test_the_recorded_video_post_in_both_shapes_says_the_same() -> None:
    answer, [raw] = recorded("mooserific_post_npf_video")
    legacy = parse.build_post(raw, answer.response["blog"])
    blocks = parse.build_post(to_npf(raw), answer.response["blog"])
    for post in (legacy, blocks):
        assert post.text == "When it FINALLY rains, you put on your swimsuit, and rush outside!"
        assert [m.role for m in post.media] == ["video", "thumbnail"]
        assert post.media[0].url == "https://va.media.tumblr.com/tumblr_qxmksbkhGr1s5gx2z_720.mp4"


def test_note_count_and_blog_counters_are_not_content() -> None:
    answer, [raw, _other] = recorded("mooserific_posts_page_npf")
    post = parse.build_post(raw, answer.response["blog"])
    busier = dict(raw, note_count=1234, can_like=False, is_blazed=True)
    blog = dict(answer.response["blog"], posts=9999, total_posts=9999, updated=1)
    again = parse.build_post(busier, blog)
    assert content_hash(again) == content_hash(post)
    assert again.platform_version_id == post.platform_version_id


def test_npf_text_formatting_links_asks_and_providers() -> None:
    content = npf.from_blocks(
        [
            {"type": "text", "text": "Who runs the pool?"},
            {"type": "text", "text": "Pool hours", "subtype": "heading1"},
            {
                "type": "text",
                "text": "See the schedule here.",
                "formatting": [
                    {"start": 17, "end": 21, "type": "link", "url": "https://city.example/pool"}
                ],
            },
            {"type": "video", "provider": "youtube", "url": "https://www.youtube.com/watch?v=abc"},
            {"type": "link", "url": "https://city.example/news", "title": "News"},
        ],
        [
            {
                "type": "ask",
                "blocks": [0],
                "attribution": {"type": "blog", "blog": {"name": "neighbour"}},
            }
        ],
    )
    assert content.text.startswith("neighbour asked: Who runs the pool?")
    assert content.ask == {"asker": "neighbour", "text": "Who runs the pool?"}
    assert '<a href="https://city.example/pool">here</a>' in content.html
    assert "<h1>Pool hours</h1>" in content.html
    assert content.links == [
        "https://city.example/pool",
        "https://www.youtube.com/watch?v=abc",
        "https://city.example/news",
    ]
    assert content.media == []
    assert "hosted by youtube" in content.notes[0]
    assert content.link_card is not None
    assert content.link_card.title == "News"


# --- classification: a reblog of an official blog ---------------------------------------------


def reblog_of(api: TumblrApi, original: str, comment: str | None = None) -> CollectedPost:
    api.add_blog("parksdept")
    post_id = api.add_reblog("parksdept", original, comment=comment)
    return parse.build_post(api.posts[post_id], api.blogs["parksdept"])


def context() -> PostContext:
    return PostContext(platform=PLATFORM.id, account_handle="parksdept")


def test_a_reblog_of_an_official_blog_is_a_secondary_copy(api: TumblrApi) -> None:
    first = PAGE_IDS[0]
    config = ClassifierConfig.model_validate(
        {"official_accounts": {PLATFORM.id: ["https://Mooserific.tumblr.com/"]}}
    )
    decision = classify(reblog_of(api, first), context(), config, InMemoryCrossPostIndex())
    assert decision.label == Label.secondary_copy
    assert decision.rule_id == RuleId.repost_of_official_account
    assert decision.primary_ref == f"https://mooserific.tumblr.com/post/{first}"


def test_an_official_blog_by_its_uuid_and_a_reblog_with_a_comment(api: TumblrApi) -> None:
    first = PAGE_IDS[0]
    config = ClassifierConfig.model_validate(
        {"official_accounts": {PLATFORM.id: ["t:5PKLMis4USEO6RmAjUwbrw"]}}
    )
    plain = classify(reblog_of(api, first), context(), config, InMemoryCrossPostIndex())
    assert plain.rule_id == RuleId.repost_of_official_account
    commented = reblog_of(api, first, comment="Our team was there too!")
    decision = classify(commented, context(), config, InMemoryCrossPostIndex())
    assert decision.rule_id == RuleId.quote_with_comment


def test_a_reblog_of_another_blog_is_a_record(api: TumblrApi) -> None:
    first = PAGE_IDS[0]
    config = ClassifierConfig.model_validate(
        {"official_accounts": {PLATFORM.id: ["cityofexample"]}}
    )
    decision = classify(reblog_of(api, first), context(), config, InMemoryCrossPostIndex())
    assert decision.label == Label.record
    assert decision.rule_id == RuleId.repost_of_other_account


def test_official_blogs_are_checked() -> None:
    with pytest.raises(ValidationError, match="not a Tumblr blog name"):
        ClassifierConfig.model_validate({"official_accounts": {PLATFORM.id: ["city_hall!"]}})


# --- rate-limit headers -------------------------------------------------------------------------

# As Tumblr sent them (tumblr/docs issue #139, subnomo/tumblr-likes issue #25): resets are
# seconds from now, per window.
SEEN = {
    "x-ratelimit-perday-limit": "5000",
    "x-ratelimit-perday-remaining": "3996",
    "x-ratelimit-perday-reset": "84932",
    "x-ratelimit-perhour-limit": "1000",
    "x-ratelimit-perhour-remaining": "0",
    "x-ratelimit-perhour-reset": "2132",
}


def test_the_used_up_window_says_when_to_come_back() -> None:
    assert remaining_from_headers(SEEN) == 0
    assert retry_at_from_headers(SEEN, NOW) == NOW + dt.timedelta(seconds=2132)
    day_gone = dict(SEEN, **{"x-ratelimit-perday-remaining": "0"})
    assert retry_at_from_headers(day_gone, NOW) == NOW + dt.timedelta(seconds=84932)


def test_a_window_with_requests_left_pauses_nothing() -> None:
    fine = dict(
        SEEN, **{"x-ratelimit-perhour-remaining": "610", "x-ratelimit-perhour-reset": "753"}
    )
    limiter = HostLimiter()
    assert limiter.observe("api.tumblr.com", fine, NOW) is None
    # A 429 with every window open (it happens): the soonest reset.
    assert retry_at_from_headers(fine, NOW) == NOW + dt.timedelta(seconds=753)
    assert limiter.observe("api.tumblr.com", SEEN, NOW) == NOW + dt.timedelta(seconds=2132)
