"""End to end through the API (and the `postvault classify` command): overrides,
re-classification after a configuration change, dead primaries, the review queue."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.audit.service import Actor
from app.classification import service
from app.classification.config import CONFIG_FILE_NAME
from app.config import PROJECT_ROOT, Settings
from app.db import Database
from app.platforms.collected import Author, CollectedPost, EmbeddedPost
from tests.classification.labelled import config
from tests.conftest import MakePerson, Person
from tests.factories import add_capture

ACTOR = Actor.system("tests")

BOOST_OF_CITY = CollectedPost(
    platform="mastodon",
    post_id="mastodon.example/777",
    url="https://mastodon.example/@emp/777",
    author=Author(handle="emp@mastodon.example"),
    repost_of=EmbeddedPost(
        url="https://mastodon.example/@cityofexample/2001",
        author=Author(
            handle="cityofexample", profile_url="https://mastodon.example/@cityofexample"
        ),
        text="Road closure on Main St this weekend.",
    ),
)


def run_classify(settings: Settings, schedules: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "classify", "--all"],
        capture_output=True,
        text=True,
        env={
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(PROJECT_ROOT),
            "POSTVAULT_DATABASE_URL": settings.database_url,
            "POSTVAULT_ARCHIVE_DIR": str(settings.archive_dir),
            "POSTVAULT_SCHEDULES_DIR": str(schedules),
        },
        check=False,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stderr
    return result


def write_config(folder: Path, *, official: list[str], domains: list[str]) -> Path:
    """A schedules folder: the shipped retention schedules and this classifier configuration."""
    folder.mkdir(parents=True, exist_ok=True)
    for schedule in (PROJECT_ROOT / "retention_schedules").glob("*.yaml"):
        if schedule.name != CONFIG_FILE_NAME:
            shutil.copy(schedule, folder / schedule.name)
    accounts = ", ".join(official)
    (folder / CONFIG_FILE_NAME).write_text(
        f"official_accounts:\n  mastodon: [{accounts}]\npublication_domains: [{', '.join(domains)}]\n",
        encoding="utf-8",
    )
    return folder


def classification_of(client: TestClient, person: Person, post_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/posts/{post_id}", headers=person.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()["classification"]
    return body


def test_override_is_audited_and_survives_reclassification(
    client: TestClient, db: Database, make_person: MakePerson, settings: Settings, tmp_path: Path
) -> None:
    employee = make_person()
    officer = make_person("records_officer")
    with db.session() as session:
        version = add_capture(session, owner=employee.user, post=BOOST_OF_CITY)
        service.classify_version(session, version_id=version.id, config=config(), actor=ACTOR)
        post_id = version.post_id
    assert classification_of(client, officer, post_id)["label"] == "secondary_copy"

    url = f"/api/v1/posts/{post_id}/classification"
    body = {"label": "record", "reason": "The employee's boost was discussed at council"}
    assert client.post(url, json=body, headers=employee.headers).status_code == 403
    for bad in (
        {"label": "record", "reason": "   "},
        {"label": "record"},
        {"label": "keep-forever", "reason": "x"},
    ):
        response = client.post(url, json=bad, headers=officer.headers)
        assert response.status_code == 422, bad
        assert response.json()["detail"]
    assert (
        client.post(
            "/api/v1/posts/999999/classification", json=body, headers=officer.headers
        ).status_code
        == 404
    )
    created = client.post(url, json=body, headers=officer.headers)
    assert created.status_code == 201, created.text
    assert created.json()["label"] == "record"

    shown = classification_of(client, officer, post_id)
    assert (shown["label"], shown["source"], shown["rule_id"]) == (
        "record",
        "override",
        "officer_override",
    )
    assert "discussed at council" in " ".join(shown["reasons"])
    audit = client.get(
        "/api/v1/audit", params={"action": "classification.overridden"}, headers=officer.headers
    ).json()
    assert audit["total"] == 1
    assert audit["items"][0]["details"]["reason"] == body["reason"]
    assert audit["items"][0]["details"]["previous_label"] == "secondary_copy"

    # The rules run again (with the shipped configuration): the override stays.
    schedules = write_config(
        tmp_path / "schedules",
        official=["cityofexample@mastodon.example"],
        domains=["city.example"],
    )
    result = run_classify(settings, schedules)
    assert "1 under an officer's override (kept)" in result.stdout
    assert classification_of(client, officer, post_id)["source"] == "override"

    history = client.get(f"{url}/history", headers=officer.headers).json()
    assert [(h["source"], h["version_number"]) for h in history] == [("rules", 1), ("override", 1)]

    revoked = client.delete(url, params={"reason": "decided by the board"}, headers=officer.headers)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    back = classification_of(client, officer, post_id)
    assert (back["label"], back["source"]) == ("secondary_copy", "rules")
    assert (
        client.delete(url, params={"reason": "again"}, headers=officer.headers).status_code == 404
    )


def test_reclassification_after_a_configuration_change(
    client: TestClient, db: Database, make_person: MakePerson, settings: Settings, tmp_path: Path
) -> None:
    employee = make_person()
    officer = make_person("records_officer")
    with db.session() as session:
        post_id = add_capture(session, owner=employee.user, post=BOOST_OF_CITY).post_id
    schedules = write_config(
        tmp_path / "schedules", official=["someoneelse@mastodon.example"], domains=["city.example"]
    )
    first = run_classify(settings, schedules)
    assert "1 versions classified: 1 changed" in first.stdout
    before = classification_of(client, officer, post_id)
    assert (before["label"], before["rule_id"]) == ("record", "repost_of_other_account")

    write_config(schedules, official=["cityofexample@mastodon.example"], domains=["city.example"])
    second = run_classify(settings, schedules)
    assert "label record -> secondary_copy: 1" in second.stdout
    assert "rule repost_of_other_account -> repost_of_official_account: 1" in second.stdout
    assert "1 posts changed label" in second.stdout
    after = classification_of(client, officer, post_id)
    assert (after["label"], after["rule_id"]) == ("secondary_copy", "repost_of_official_account")
    assert after["config_hash"] != before["config_hash"]
    assert "cityofexample@mastodon.example" in " ".join(after["reasons"])

    third = run_classify(settings, schedules)
    assert "0 changed, 1 unchanged" in third.stdout


def test_dead_primary_is_kept_as_a_record(
    client: TestClient,
    db: Database,
    make_person: MakePerson,
    city_site: service.LinkChecker,
) -> None:
    employee = make_person()
    officer = make_person("records_officer")
    link_post = CollectedPost(
        platform="mastodon",
        post_id="mastodon.example/778",
        url="https://mastodon.example/@emp/778",
        author=Author(handle="emp@mastodon.example"),
        text="2019 budget: https://city.example/budget-2019",
        links=["https://city.example/budget-2019"],
    )
    with db.session() as session:
        version = add_capture(session, owner=employee.user, post=link_post)
        service.classify_version(session, version_id=version.id, config=config(), actor=ACTOR)
        post_id = version.post_id
    assert classification_of(client, officer, post_id)["label"] == "secondary_copy"
    with db.session() as session:
        service.verify_primaries(session, actor=ACTOR, link_checker=city_site)
    shown = classification_of(client, officer, post_id)
    assert (shown["label"], shown["rule_id"]) == ("record", "primary_unverified")
    assert "https://city.example/budget-2019 could not be reached" in shown["reasons"][-1]


def test_review_queue_lists_near_duplicates_until_an_officer_decides(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    employee = make_person()
    officer = make_person("records_officer")
    text = "Spring cleanup volunteers meet Saturday at 9am at the Riverside Park shelter; gloves and bags provided."
    with db.session() as session:
        ids = []
        for n, words in enumerate((text, text.replace("provided.", "provided for all."))):
            post = CollectedPost(
                platform="bluesky",
                post_id=f"at://p{n}",
                url=f"https://bsky.app/profile/a{n}.bsky.social/post/{n}",
                author=Author(handle=f"a{n}.bsky.social"),
                text=words,
            )
            version = add_capture(session, owner=employee.user, post=post)
            service.classify_version(session, version_id=version.id, config=config(), actor=ACTOR)
            ids.append(version.post_id)
    assert client.get("/api/v1/classification/review", headers=employee.headers).status_code == 403
    queue = client.get("/api/v1/classification/review", headers=officer.headers).json()
    assert queue["total"] == 1
    item = queue["items"][0]
    assert item["post_id"] == ids[1]
    assert item["rule_id"] == "near_duplicate_review"
    assert item["review_details"]["near_duplicates"][0]["post_id"] == ids[0]
    decided = client.post(
        f"/api/v1/posts/{ids[1]}/classification",
        json={"label": "secondary_copy", "reason": "Same announcement as post " + str(ids[0])},
        headers=officer.headers,
    )
    assert decided.status_code == 201
    assert client.get("/api/v1/classification/review", headers=officer.headers).json()["total"] == 0
