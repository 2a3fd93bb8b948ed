"""The MediaWiki collector against the recorded answers of a real wiki, replayed on loopback:
the API found under its own path, the RSD read, and the faults a live wiki sends only
sometimes — a 429 with its reset, a busy wiki, a truncated answer, an error envelope."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import httpx
import pytest

from app.platforms.collected import (
    CaptureTarget,
    CollectedPost,
    CollectResult,
    Deleted,
    NotVisible,
    RateLimited,
    TransientFailure,
    Unchanged,
)
from app.platforms.mediawiki import PLATFORM, urls
from app.platforms.mediawiki.collector import MediaWikiCollector
from app.platforms.ratelimit import HostLimiter
from tests.loopback import Reply
from tests.platforms.mediawiki.conftest import fetcher_for, guarded_client
from tests.platforms.mediawiki.replay import REVISION, ReplayWiki, recorded, replay_wiki


@pytest.fixture
def replay() -> Iterator[ReplayWiki]:
    with replay_wiki() as wiki:
        yield wiki


@pytest.fixture
def http_client(replay: ReplayWiki) -> Iterator[httpx.Client]:
    with guarded_client(replay.netloc) as client:
        yield client


def target(replay: ReplayWiki, **extra: object) -> CaptureTarget:
    values: dict[str, object] = {
        "post_id": 1,
        "platform": PLATFORM.id,
        "external_id": urls.external_id(replay.netloc, str(REVISION)),
        "url": replay.revision_url(),
        "account_handle": f"Alice@{replay.netloc}",
        "account_profile_url": replay.user_page,
    }
    values.update(extra)
    return CaptureTarget.model_validate(values)


def collect(
    replay: ReplayWiki,
    client: httpx.Client,
    capture: CaptureTarget,
    limiter: HostLimiter | None = None,
) -> CollectResult:
    return MediaWikiCollector(fetcher_for(replay.netloc, limiter=limiter)).collect(capture, client)


def test_the_api_is_found_from_the_page_under_its_own_path(
    replay: ReplayWiki, http_client: httpx.Client
) -> None:
    result = collect(replay, http_client, target(replay))
    assert isinstance(result, CollectedPost), result
    assert result.extra["api_url"] == f"{replay.server.base_url}/w/api.php"
    assert result.title == "Budget hearing"
    assert result.author.display_name == "Alice"
    assert result.extra["comment"] == "moved to Tuesday"
    assert len(result.media) == 1
    assert result.media[0].url.startswith(f"{replay.origin}/images/")
    assert replay.api_calls == ["revision", "parse", "compare", "imageinfo"]


def test_the_rsd_document_is_read_when_the_link_does_not_name_api_php(
    replay: ReplayWiki, http_client: httpx.Client
) -> None:
    replay.edit_uri = f"{replay.origin}/discovery.xml"
    result = collect(replay, http_client, target(replay))
    assert isinstance(result, CollectedPost), result
    assert result.source["discovery"]["rsd_api_link"] == f"{replay.origin}/api.php"


def test_a_page_without_an_api_link_is_a_failure_saying_so(
    replay: ReplayWiki, http_client: httpx.Client
) -> None:
    replay.faults["page"] = Reply(200, b"<html><head></head><body>hi</body></html>")
    result = collect(replay, http_client, target(replay))
    assert isinstance(result, TransientFailure), result
    assert "names no MediaWiki API" in result.error


@pytest.mark.parametrize("header", ["Retry-After", "X-RateLimit-Reset"])
def test_a_429_pauses_the_wiki_until_its_reset(
    replay: ReplayWiki, http_client: httpx.Client, header: str
) -> None:
    limiter = HostLimiter()
    before = dt.datetime.now(dt.UTC)
    value = "120" if header == "Retry-After" else str(int(before.timestamp()) + 120)
    replay.faults["revision"] = Reply.json(
        {"errors": [{"code": "too-many-requests", "text": "slow down"}]},
        status=429,
        headers={header: value},
    )
    result = collect(replay, http_client, target(replay), limiter)
    assert isinstance(result, RateLimited), result
    assert result.host == replay.netloc
    assert before + dt.timedelta(seconds=110) < result.retry_at
    assert result.retry_at < before + dt.timedelta(seconds=130)
    calls = len(replay.api_calls)
    again = collect(
        replay,
        http_client,
        target(replay, validators={"api_url": f"{replay.origin}/api.php"}),
        limiter,
    )
    assert isinstance(again, RateLimited)
    assert len(replay.api_calls) == calls  # nothing sent while the wiki is paused


def test_a_busy_wiki_answering_200_with_ratelimited_pauses_it_too(
    replay: ReplayWiki, http_client: httpx.Client
) -> None:
    limiter = HostLimiter()
    replay.faults["parse"] = Reply.json(
        {"errors": [{"code": "ratelimited", "text": "You've exceeded your rate limit."}]},
        headers={"Retry-After": "30"},
    )
    result = collect(replay, http_client, target(replay), limiter)
    assert isinstance(result, RateLimited), result
    assert "ratelimited" in result.reason
    assert limiter.paused_until(replay.netloc) is not None


@pytest.mark.parametrize("answer", ["revision", "parse", "compare", "imageinfo"])
def test_a_truncated_answer_is_a_failure_naming_it(
    replay: ReplayWiki, http_client: httpx.Client, answer: str
) -> None:
    whole = json.dumps(
        recorded(f"local_{'query_revision' if answer == 'revision' else answer}.json")["body"]
    )
    replay.faults[answer] = Reply(
        200, whole[: len(whole) // 2].encode(), {"Content-Type": "application/json"}
    )
    result = collect(replay, http_client, target(replay))
    assert isinstance(result, TransientFailure), result
    assert f"the {answer} answer" in result.error
    assert "not valid JSON" in result.error


def test_an_answer_of_the_wrong_shape_is_a_failure(
    replay: ReplayWiki, http_client: httpx.Client
) -> None:
    replay.faults["revision"] = Reply.json(["not", "an", "object"])
    result = collect(replay, http_client, target(replay))
    assert isinstance(result, TransientFailure)
    assert "is not an object" in result.error


def test_an_api_error_envelope_is_a_failure_naming_the_code(
    replay: ReplayWiki, http_client: httpx.Client
) -> None:
    envelope = recorded("android_api_error_unknown_action.json")["body"]
    replay.faults["revision"] = Reply.json(envelope)
    result = collect(replay, http_client, target(replay))
    assert isinstance(result, TransientFailure), result
    assert "unknown_action" in result.error


def test_the_recorded_page_deletion_and_a_present_revision(
    replay: ReplayWiki, http_client: httpx.Client
) -> None:
    later = target(
        replay,
        previous_platform_version_id=str(REVISION),
        validators={"api_url": f"{replay.origin}/api.php"},
    )
    assert isinstance(collect(replay, http_client, later), Unchanged)
    replay.state = "deleted"
    result = collect(replay, http_client, later)
    assert isinstance(result, Deleted)
    assert "badrevids" in result.reason


def test_a_wiki_that_needs_a_login_to_read_is_not_visible(
    replay: ReplayWiki, http_client: httpx.Client
) -> None:
    replay.faults["revision"] = Reply.json(
        {
            "errors": [
                {
                    "code": "readapidenied",
                    "text": "You need read permission to use this module.",
                    "module": "main",
                }
            ]
        }
    )
    result = collect(replay, http_client, target(replay))
    assert isinstance(result, NotVisible), result
    assert "readapidenied" in result.reason


def test_a_remembered_api_that_moved_is_found_again_from_the_page(
    replay: ReplayWiki, http_client: httpx.Client
) -> None:
    moved = target(replay, validators={"api_url": f"{replay.server.base_url}/old/api.php"})
    result = collect(replay, http_client, moved)
    assert isinstance(result, CollectedPost), result
    assert result.validators == {"api_url": f"{replay.origin}/api.php"}
