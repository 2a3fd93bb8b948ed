"""Reposts and quotes of an official X account are classifier input, like Bluesky reposts."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.classification.config import ClassifierConfig
from app.classification.crosspost_index import InMemoryCrossPostIndex
from app.classification.models import Label
from app.classification.rules import PostContext, RuleId, classify
from app.platforms.x import PLATFORM, parse
from tests.platforms.x.server import load

CONFIG = ClassifierConfig.model_validate(
    {"official_accounts": {PLATFORM.id: ["@BibaIgna96", "337119125"]}}
)


def context() -> PostContext:
    return PostContext(platform=PLATFORM.id, account_handle="lachiveronica")


def test_a_retweet_of_an_official_account_is_a_secondary_copy() -> None:
    post = parse.build_post(
        "1394735776701816833", parse.read_answer(load("twarc_search_all_page")["body"])
    )
    decision = classify(post, context(), CONFIG, InMemoryCrossPostIndex())
    assert decision.label == Label.secondary_copy
    assert decision.rule_id == RuleId.repost_of_official_account
    assert decision.primary_ref == "https://x.com/bibaigna96/status/1391677057810288641"


def test_a_retweet_of_another_account_is_a_record() -> None:
    other = ClassifierConfig.model_validate({"official_accounts": {PLATFORM.id: ["cityofexample"]}})
    post = parse.build_post(
        "1394735776701816833", parse.read_answer(load("twarc_search_all_page")["body"])
    )
    decision = classify(post, context(), other, InMemoryCrossPostIndex())
    assert decision.label == Label.record
    assert decision.rule_id == RuleId.repost_of_other_account


def test_a_quote_with_a_comment_of_an_official_account_by_its_id() -> None:
    post = parse.build_post(
        "1576995594388000768", parse.read_answer(load("twarc_tweet_lookup_quoted_edit")["body"])
    )
    decision = classify(post, context(), CONFIG, InMemoryCrossPostIndex())
    assert decision.rule_id == RuleId.quote_with_comment
    assert "wongmjane" in " ".join(decision.reasons)


def test_official_x_accounts_are_checked() -> None:
    with pytest.raises(ValidationError, match="not an X user name"):
        ClassifierConfig.model_validate({"official_accounts": {PLATFORM.id: ["city-hall!"]}})
