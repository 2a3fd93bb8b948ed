"""X end to end: flag by URL → capture → versions, media, edits, removal, failures, and the
monthly read budget, against the loopback X API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.collectors.service import CaptureContext
from app.config import Settings
from app.db import Database
from app.pipeline import build_capture_context
from app.platforms.fetcher import Fetcher
from app.platforms.ratelimit import HostLimiter
from app.platforms.x import PLATFORM
from app.posts.models import FlaggedPost
from app.storage.local import LocalStore
from tests.collectors.servers import Answer
from tests.conftest import MakePerson, Person
from tests.platforms.x.conftest import no_sleep
from tests.platforms.x.server import TOKEN, XApi, recorded_edit_chain, tiny_mp4

ORIGINAL, EDIT = "1576994746135764992", "1576994789110992896"
AUTHOR = "337119125"


def x_settings(
    settings: Settings, api: XApi, *, token: str | None = TOKEN, budget: int | None = None
) -> Settings:
    return settings.model_copy(
        update={
            "fetch_allow_hosts": api.host,
            "fetch_plain_http_hosts": api.host,
            "x_api_url": api.base_url,
            "x_bearer_token": None if token is None else __import__("pydantic").SecretStr(token),
            "x_monthly_read_budget": budget,
            "capture_max_failures": 3,
        }
    )


def x_context(db: Database, settings: Settings, api: XApi) -> CaptureContext:
    fetcher = Fetcher.from_settings(settings).with_(
        limiter=HostLimiter(), sleep=no_sleep, clock=api.clock
    )
    collector = PLATFORM.collector(settings, fetcher)
    context = build_capture_context(
        db,
        settings,
        store=LocalStore(settings.archive_dir),
        collectors={PLATFORM.id: collector},
        worker="x-test",
    )
    context.clock = api.clock
    return context


@pytest.fixture
def ctx(db: Database, settings: Settings, api: XApi) -> Iterator[CaptureContext]:
    context = x_context(db, x_settings(settings, api), api)
    yield context
    context.client.close()


@pytest.fixture
def web(client: TestClient, ctx: CaptureContext) -> TestClient:
    client.app.state.capture_context = lambda: ctx  # type: ignore[attr-defined]
    return client


def flag(client: TestClient, who: Person, url: str, handle: str = "@WongMJane") -> int:
    r = client.post(
        "/api/v1/accounts", json={"platform": PLATFORM.id, "handle": handle}, headers=who.headers
    )
    assert r.status_code in (200, 201, 409), r.text
    r = client.post("/api/v1/posts", json={"url": url}, headers=who.headers)
    assert r.status_code in (200, 201), r.text
    post_id: int = r.json()["id"]
    return post_id


def capture(client: TestClient, who: Person, post_id: int, api: XApi) -> dict[str, object]:
    api.now += dt.timedelta(seconds=1)  # a manual capture is named by the time it runs
    r = client.post(f"/api/v1/posts/{post_id}/capture", headers=who.headers)
    assert r.status_code == 200, r.text
    data: dict[str, object] = r.json()
    return data


def unedited(api: XApi) -> None:
    recorded_edit_chain(api)
    api.tweets.pop(EDIT)
    api.tweets[ORIGINAL]["edit_history_tweet_ids"] = [ORIGINAL]


def test_flag_capture_edit_delete(
    web: TestClient, make_person: MakePerson, api: XApi, settings: Settings, db: Database
) -> None:
    unedited(api)
    ann = make_person()
    post_id = flag(web, ann, f"https://mobile.twitter.com/wongmjane/status/{ORIGINAL}/photo/1?s=20")
    post = web.get(f"/api/v1/posts/{post_id}", headers=ann.headers).json()
    assert post["platform"] == PLATFORM.id
    assert post["url"] == f"https://x.com/wongmjane/status/{ORIGINAL}"

    first = capture(web, ann, post_id, api)
    assert first["outcome"] == "new_version", first
    versions = web.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json()
    assert len(versions) == 1
    assert sorted(m["role"] for m in versions[0]["media"]) == ["avatar", "image"]
    store = LocalStore(settings.archive_dir)
    for media in versions[0]["media"]:
        assert store.get(media["sha256"])

    assert capture(web, ann, post_id, api)["outcome"] == "unchanged"

    api.now += dt.timedelta(minutes=5)
    edit = api.edit(ORIGINAL, "i miss y’all so much — see you Tuesday")
    api.now += dt.timedelta(minutes=5)
    edited = capture(web, ann, post_id, api)
    assert edited["outcome"] == "new_version", edited
    versions = web.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json()
    assert [v["number"] for v in versions] == [1, 2]
    assert versions[1]["text"] == "i miss y’all so much — see you Tuesday"
    assert versions[1]["platform_version_id"] == edit

    # The post page says for how long replies are found.
    from app.auth.models import User
    from app.web.service import post_page

    with db.session() as session:
        viewer = session.get(User, ann.user.id)
        assert viewer is not None
        notes = post_page(session, viewer=viewer, post_id=post_id).notes
    assert "finds replies for 7 days after a post is published (until 2022-10-10T17:57" in notes[0]

    api.delete(ORIGINAL)
    removed = capture(web, ann, post_id, api)
    assert removed["outcome"] == "removed"
    assert "Not Found Error" in str(removed["detail"])
    with db.session() as session:
        row = session.get(FlaggedPost, post_id)
        assert row is not None
        assert row.removed_at is not None


def test_video_and_gif_keep_the_best_mp4(
    web: TestClient, make_person: MakePerson, api: XApi, settings: Settings
) -> None:
    recorded_edit_chain(api)
    api.add_video("7_100")
    api.add_video("16_200", kind="animated_gif")
    api.add_photo("3_300", alt_text="the agenda")
    tweet = api.add_tweet(
        "agenda and clip", author_id=AUTHOR, media_keys=["7_100", "16_200", "3_300"]
    )
    ann = make_person()
    post_id = flag(web, ann, f"https://x.com/wongmjane/status/{tweet}/video/1")
    assert capture(web, ann, post_id, api)["outcome"] == "new_version"
    media = web.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json()[0]["media"]
    by_role = {m["role"]: m for m in media}
    assert set(by_role) == {"video", "gifv", "thumbnail", "image", "avatar"}
    assert by_role["video"]["source_url"].endswith("/1280x720/high.mp4")
    assert LocalStore(settings.archive_dir).get(by_role["video"]["sha256"]) == tiny_mp4()
    assert by_role["image"]["alt_text"] == "the agenda"
    fetched = [r.route for r in api.server.requests if r.route.endswith(".mp4")]
    assert all("high.mp4" in r for r in fetched)


def test_a_malformed_answer_loses_nothing_and_the_post_says_why(
    web: TestClient, make_person: MakePerson, api: XApi, settings: Settings
) -> None:
    recorded_edit_chain(api)
    ann = make_person()
    post_id = flag(web, ann, f"https://twitter.com/wongmjane/status/{EDIT}")
    assert capture(web, ann, post_id, api)["outcome"] == "new_version"
    before = web.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json()
    api.script[f"/2/tweets/{EDIT}"] = [
        Answer(200, [("Content-Type", "application/json")], b'{"data": {"id": "1576994789110')
    ]
    failed = capture(web, ann, post_id, api)
    assert failed["outcome"] == "failed"
    assert "not valid JSON" in str(failed["detail"])
    assert web.get(f"/api/v1/posts/{post_id}/versions", headers=ann.headers).json() == before
    post = web.get(f"/api/v1/posts/{post_id}", headers=ann.headers).json()
    assert "not valid JSON" in post["last_error"]
    store = LocalStore(settings.archive_dir)
    for media in before[0]["media"]:
        assert store.get(media["sha256"])


def test_a_429_defers_the_poll_to_the_reset(
    web: TestClient, make_person: MakePerson, api: XApi, db: Database
) -> None:
    recorded_edit_chain(api)
    ann = make_person()
    post_id = flag(web, ann, f"https://x.com/wongmjane/status/{EDIT}")
    api.exhaust("lookup")
    reset = dt.datetime.fromtimestamp(int((api.now + api.window).timestamp()), dt.UTC)
    result = capture(web, ann, post_id, api)
    assert result["outcome"] == "rate_limited"
    with db.session() as session:
        row = session.get(FlaggedPost, post_id)
        assert row is not None
        assert row.next_poll_at == reset  # x-rate-limit-reset, not a guess


def test_without_a_token_the_flag_is_accepted_and_the_post_says_so(
    client: TestClient, make_person: MakePerson, api: XApi, settings: Settings, db: Database
) -> None:
    context = x_context(db, x_settings(settings, api, token=None), api)
    client.app.state.capture_context = lambda: context  # type: ignore[attr-defined]
    ann = make_person()
    post_id = flag(client, ann, f"https://x.com/wongmjane/status/{EDIT}")
    result = capture(client, ann, post_id, api)
    assert result["outcome"] == "not_visible"
    post = client.get(f"/api/v1/posts/{post_id}", headers=ann.headers).json()
    assert post["last_error"] == "not captured: set POSTVAULT_X_BEARER_TOKEN"
    assert api.server.requests == []
    context.client.close()


def test_a_profile_or_search_url_is_refused_naming_x(
    client: TestClient, make_person: MakePerson
) -> None:
    ann = make_person()
    client.post(
        "/api/v1/accounts",
        json={"platform": PLATFORM.id, "handle": "@wongmjane"},
        headers=ann.headers,
    )
    for url in ("https://x.com/wongmjane", "https://twitter.com/search?q=city%20hall"):
        r = client.post("/api/v1/posts", json={"url": url}, headers=ann.headers)
        assert r.status_code == 422, r.text
        assert "X" in r.text


def test_accounts_by_handle_and_profile_url(client: TestClient, make_person: MakePerson) -> None:
    ann = make_person()
    r = client.post(
        "/api/v1/accounts",
        json={"profile_url": "https://twitter.com/CityOfExample"},
        headers=ann.headers,
    )
    assert r.status_code in (200, 201), r.text
    assert r.json()["platform"] == PLATFORM.id
    assert r.json()["handle"] == "cityofexample"


# --- the monthly read budget through the pipeline --------------------------------------------


def test_the_pipeline_defers_polls_the_budget_cannot_cover(
    db: Database, settings: Settings, api: XApi, make_person: MakePerson
) -> None:
    """A budget of 20 reads for 12 posts: first captures first, re-polls deferred with their
    time, and what X served never more than the budget; the dashboard says so."""
    from app.accounts import service as accounts_service
    from app.auth.models import User
    from app.collectors.service import run_due
    from app.posts import service as posts_service
    from app.web.service import dashboard

    api.now = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)
    api.add_user(AUTHOR, "cityofexample")
    context = x_context(db, x_settings(settings, api, budget=20), api)
    context.after_commit = []
    ann = make_person()
    with db.session() as session:
        user = session.get(User, ann.user.id)
        assert user is not None
        accounts_service.register_account(
            session, owner=user, platform=PLATFORM.id, handle="@cityofexample"
        )
        for n in range(12):
            tweet = api.add_tweet(f"post {n}", author_id=AUTHOR)
            posts_service.flag_post(
                session, user=user, url=f"https://x.com/cityofexample/status/{tweet}", note=None
            )
    for _hour in range(48):
        run_due(context)
        assert api.reads <= 20
        api.now += dt.timedelta(hours=1)
    with db.session() as session:
        posts = list(session.scalars(select(FlaggedPost)))
        deferred = [p for p in posts if p.polls_done < 4]
        assert deferred  # re-polls wait for the budget
        assert all(
            p.next_poll_at is not None and p.next_poll_at >= api.now - dt.timedelta(hours=1)
            for p in deferred
        )
        facts = dict(dashboard(session, settings=context.settings, now=api.now).platform_facts)
    assert "of 20 used in 2026-12" in facts["X API reads"]
    context.client.close()
