"""Every post of the labelled set gets the expected label and rule, with reasons naming what
was matched."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from app.classification.rules import classify
from tests.classification.labelled import Case, archive_index, cases, config
from tests.classification.shapes import FIXTURES

CASES = cases()


def test_the_set_is_large_and_covers_every_platform_and_rule() -> None:
    assert len(CASES) >= 60
    platforms = Counter(c.spec["platform"] for c in CASES)
    assert set(platforms) == {"bluesky", "mastodon", "feed", "youtube"}
    rules = {c.expect["rule"] for c in CASES}
    assert {
        "repost_of_official_account",
        "repost_of_other_account",
        "quote_with_comment",
        "reply_in_conversation",
        "link_only_to_publication",
        "link_with_comment",
        "cross_post_duplicate",
        "near_duplicate_review",
        "default_record",
        "reply_received",
    } <= rules
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_labelled_case(case: Case) -> None:
    decision = classify(case.post, case.context, config(), archive_index())
    got = (decision.label.value, decision.rule_id)
    assert got == (case.expect["label"], case.expect["rule"]), decision.reasons
    assert decision.reasons
    assert all(r.strip() for r in decision.reasons)
    text = " ".join(decision.reasons)
    for needle in case.expect.get("mentions", []):
        assert needle in text, f"reasons do not mention {needle!r}: {decision.reasons}"
    assert decision.needs_review is bool(case.expect.get("review", False)), decision.reasons
    if decision.label.value == "secondary_copy":
        assert decision.primary_ref, "a secondary copy names its primary"
    if "primary" in case.expect:
        assert decision.primary_ref == case.expect["primary"]
    if "primary_version_id" in case.expect:
        assert decision.primary_version_id == case.expect["primary_version_id"]
    if decision.rule_id == "near_duplicate_review":
        assert decision.review_details
        assert decision.review_details["near_duplicates"]


def test_youtube_cases_follow_the_discovery_schema() -> None:
    schema = json.loads((FIXTURES / "youtube" / "discovery_youtube_v3_videos.json").read_text())
    video_fields = set(schema["Video"]["properties"])
    snippet_fields = set(schema["VideoSnippet"]["properties"])
    youtube = [c.spec["raw"] for c in CASES if c.spec["platform"] == "youtube"]
    assert youtube
    for video in youtube:
        assert set(video) <= video_fields, set(video) - video_fields
        assert set(video["snippet"]) <= snippet_fields, set(video["snippet"]) - snippet_fields
