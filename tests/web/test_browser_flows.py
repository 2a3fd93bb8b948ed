"""The two end-to-end flows of issue 8 in a real browser (Debian's chromium via Playwright),
against the app under uvicorn capturing from a loopback Mastodon instance:

- an employee registers an account, flags a post, the scheduler captures it, they open its PDF
  and later press "Capture now" after an edit;
- a records officer opens a request and walks it from search to package download.

Screenshots of each page at phone and desktop width go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import hashlib
import io
import re
import zipfile

import pytest
from playwright.sync_api import expect

from app.config import Settings
from app.db import Database
from app.open_records.redaction import find_leaks
from tests.conftest import MakePerson
from tests.platforms.mastodon_like import MastodonInstance
from tests.web.browser import wait_for_package
from tests.web.conftest import MakeVisitor
from tests.web.support import (
    PASSWORD,
    SECRET,
    TOOT,
    TOOT_ID,
    captured_now,
    capturing_settings,
    employee_with_toot,
    give_password,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(settings: Settings, masto: MastodonInstance) -> Settings:
    # The live server's scheduler looks for due posts every second, as `serve` does every
    # minute, and may reach the loopback instance.
    return capturing_settings(settings, masto, run_scheduler=True, capture_interval_seconds=1)


def test_employee_flags_a_post_sees_it_captured_and_opens_its_pdf(
    visitor: MakeVisitor, db: Database, make_person: MakePerson, masto: MastodonInstance
) -> None:
    masto.add(TOOT_ID, TOOT, media=1)
    person = make_person()
    give_password(db, person.user)
    ann = visitor()
    ann.sign_in(person.user.email, PASSWORD)

    ann.register_account(f"{masto.username}@{masto.netloc}", platform="Mastodon")
    expect(ann.page.get_by_role("status")).to_have_text(
        "The account is registered. You can now flag its posts."
    )
    ann.flag(masto.post_url(TOOT_ID), note="Pool closure notice")
    expect(ann.page.get_by_role("status")).to_contain_text("The post is flagged.")
    post_id = ann.post_id()

    # The scheduler captures it; the page then shows the version and its PDF link.
    ann.wait_for_status(post_id, "Captured")
    expect(ann.page.locator("#version-1")).to_contain_text("Pool on Oak St closes in June.")
    pdf = ann.open_snapshot(post_id, 1)
    expect(ann.page.get_by_role("link", name="PDF snapshot of version 1")).to_be_visible()
    ann.shoot("post-captured")
    body = pdf.body()
    assert body.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(body).hexdigest() == pdf.headers["x-content-sha256"]

    # Edited on the platform; "Capture now" keeps the new version at once.
    masto.edit(TOOT_ID, TOOT.replace("closes in June", "closes all of June"))
    ann.go(f"/posts/{post_id}")
    ann.page.get_by_role("button", name="Capture now").click()
    expect(ann.page.get_by_role("status")).to_have_text(
        "PostVault captured the post again and kept the new version."
    )
    expect(ann.page.locator(".facts .status").first).to_have_text("Edited")
    expect(ann.page.locator(".diff ins")).to_contain_text("all of")
    ann.shoot("post-capture-now")

    ann.page.get_by_role("link", name="My posts").click()
    card = ann.page.locator(".card", has_text=f"Mastodon post by {masto.username}")
    expect(card).to_contain_text("Edited")
    ann.shoot("posts-captured")


def test_officer_walks_a_request_from_search_to_package_download(
    visitor: MakeVisitor,
    db: Database,
    make_person: MakePerson,
    masto: MastodonInstance,
    settings: Settings,
) -> None:
    _employee, post_id = employee_with_toot(db, make_person, masto)
    captured_now(db, settings, post_id)
    officer = make_person("records_officer")
    give_password(db, officer.user)

    olga = visitor()
    olga.sign_in(officer.user.email, PASSWORD)
    olga.page.get_by_role("link", name="Requests", exact=True).click()
    expect(olga.page.get_by_role("heading", name="Records requests")).to_be_visible()
    olga.shoot("requests-empty")

    # Open the request; a missing description is explained next to its field.
    olga.page.get_by_role("link", name="Open a request").click()
    expect(olga.page.get_by_label("Received on")).not_to_have_value("")
    olga.page.get_by_label("Words in the post").fill("Oak St")
    olga.page.get_by_role("button", name="Open the request").click()
    expect(olga.page.locator("#description-error")).to_contain_text(
        "Say what the requester asked for"
    )
    expect(olga.page.get_by_label("What is asked for")).to_have_attribute("aria-invalid", "true")
    expect(olga.page.get_by_label("Words in the post")).to_have_value("Oak St")
    olga.shoot("request-new-error")
    olga.page.get_by_label("What is asked for").fill(
        "Every post by parks staff about the Oak St pool closure"
    )
    olga.page.get_by_role("button", name="Open the request").click()
    expect(olga.page.get_by_role("status")).to_contain_text("The request is logged.")
    expect(olga.page.locator(".facts")).to_contain_text("1 post held for this request")
    olga.shoot("request-opened")

    # Search, tick the post, add it to the set.
    olga.page.get_by_label("Words to search for").fill("pool closes")
    olga.page.get_by_role("button", name="Search", exact=True).click()
    expect(olga.page.get_by_role("heading", name="1 version found, in 1 post")).to_be_visible()
    expect(olga.page.locator(".snippet mark").first).to_be_visible()
    olga.page.locator(f"#hit-{post_id}").check()
    olga.shoot("request-search")
    olga.page.get_by_role("button", name="Add to the set").click()
    expect(olga.page.get_by_role("status")).to_contain_text("The posts are in the responsive set")
    item = olga.page.locator(".card.item").first
    expect(item).to_contain_text("Pool on Oak St closes in June.")

    # Redact: an ambiguous phrase is refused with a sentence, the phone number is taken out.
    item.get_by_label("Text to redact").fill("Oak St")
    item.get_by_label("Reason", exact=True).fill("location (test)")
    item.get_by_role("button", name="Redact").click()
    item = olga.page.locator(".card.item").first
    expect(item.locator(".field-error")).to_contain_text("appears 2 times in the item")
    olga.shoot("request-redact-error")
    item.get_by_label("Text to redact").fill(SECRET)
    item.get_by_label("Reason", exact=True).fill(
        "employee's home telephone number (Wis. Stat. 19.36(10)(a))"
    )
    item.get_by_role("button", name="Redact").click()
    expect(olga.page.get_by_role("status")).to_contain_text("The redaction is made")
    item = olga.page.locator(".card.item").first
    expect(item.locator("mark.redacted")).to_contain_text(SECRET)
    redacted = olga.fetch_link(item.get_by_role("link", name=re.compile("Redacted PDF")))
    assert redacted.body().startswith(b"%PDF")
    assert find_leaks(redacted.body(), [SECRET]) == []
    archived = olga.fetch_link(item.get_by_role("link", name=re.compile("Archived PDF")))
    assert archived.body().startswith(b"%PDF")
    olga.shoot("request-set")

    # The package: made in the background, followed with Refresh, downloaded.
    olga.page.get_by_role("button", name="Make the package").click()
    expect(olga.page.get_by_role("status")).to_contain_text("The package is being made.")
    wait_for_package(olga)
    expect(olga.page.locator(".package").first).to_contain_text("Ready")
    olga.shoot("request-package")
    with olga.page.expect_download() as download_info:
        olga.page.get_by_role("link", name=re.compile("Download the package")).click()
    download = download_info.value
    assert download.suggested_filename.startswith("request-")
    data = download.path().read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as bag:
        names = bag.namelist()
        root = names[0].split("/")[0]
        assert f"{root}/bagit.txt" in names
        assert f"{root}/data/manifest.json" in names
        assert b"BagIt-Version: 1.0" in bag.read(f"{root}/bagit.txt")

    # The list shows it, with its age and the set's size.
    olga.page.get_by_role("link", name="Requests", exact=True).click()
    expect(olga.page.locator(".card").first).to_contain_text("1 item in the set")
    olga.shoot("requests")
