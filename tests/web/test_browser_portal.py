"""Issue 20 in a real browser at phone width, with JavaScript off for the requester: a person
files a request on the public portal, an officer finds the post, redacts the phone number in
it, attaches a fee estimate, grants the request and waives the fee; the person opens their
tracking link, downloads the package and finds the post in the reading room. The redacted text
is in nothing the portal serves: no page, no PDF, no file of the package."""

from __future__ import annotations

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
from tests.web.browser import PHONE, wait_for_package
from tests.web.conftest import MakeVisitor
from tests.web.support import (
    PASSWORD,
    SECRET,
    captured_now,
    capturing_settings,
    employee_with_toot,
    give_password,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def settings(settings: Settings, masto: MastodonInstance) -> Settings:
    return capturing_settings(settings, masto, public_portal=True)


def _no_secret_in(body: bytes, where: str) -> None:
    if body.startswith(b"%PDF"):
        assert find_leaks(body, [SECRET]) == [], where
    else:
        assert SECRET.encode() not in body, where


def test_a_person_files_follows_and_reads_a_released_request_at_phone_width(
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
    served: list[tuple[str, bytes]] = []

    # The requester: no account, no JavaScript, a phone.
    pat = visitor(javascript=False)
    assert pat.page.viewport_size == PHONE
    pat.go("/public/")
    pat.page.get_by_role("link", name="Make a request").first.click()
    expect(pat.page.locator("#anonymity")).to_contain_text("stay anonymous")
    pat.page.get_by_role("button", name="Send the request").click()
    expect(pat.page.locator("#description-error")).to_contain_text("Describe the records")
    pat.page.get_by_label("What records do you want?").fill(
        "Posts by parks staff about the Oak St pool closing"
    )
    pat.page.get_by_label("Platform").select_option(label="Mastodon")
    pat.page.get_by_label("Posted from").fill("2020-01-01")
    pat.shoot("portal-request")
    pat.page.get_by_role("button", name="Send the request").click()
    expect(
        pat.page.get_by_role("heading", name=re.compile(r"Request \d{4}-\d{4} is received"))
    ).to_be_visible()
    link = pat.page.locator("#tracking-link").get_attribute("href")
    assert link is not None
    assert link.startswith(pat.base_url + "/public/track/")
    number = re.search(r"\d{4}-\d{4}", pat.page.locator("h1").inner_text())
    assert number
    pat.shoot("portal-filed")

    pat.page.goto(link)
    expect(pat.page.locator("#request-status")).to_have_text("Received")
    expect(pat.page.locator("#release")).to_contain_text("Nothing is released yet")

    # The officer: the request came in through the portal and holds the post already.
    olga = visitor()
    olga.sign_in(officer.user.email, PASSWORD)
    olga.page.get_by_role("link", name="Requests", exact=True).click()
    olga.page.get_by_role("link", name=f"Request {number.group(0)}").click()
    expect(olga.page.locator("#came-in")).to_contain_text("Came in through the public portal")
    expect(olga.page.locator(".facts")).to_contain_text("1 post held for this request")
    olga.page.get_by_label("Words to search for").fill("pool closes")
    olga.page.get_by_role("button", name="Search", exact=True).click()
    olga.page.locator(f"#hit-{post_id}").check()
    olga.page.get_by_role("button", name="Add to the set").click()
    item = olga.page.locator(".card.item").first
    item.get_by_label("Text to redact").fill(SECRET)
    item.get_by_label("Reason", exact=True).fill(
        "employee's home telephone number (Wis. Stat. 19.36(10)(a))"
    )
    item.get_by_role("button", name="Redact").click()
    expect(olga.page.get_by_role("status")).to_contain_text("The redaction is made")

    # A fee estimate over the prepayment threshold; a message to the requester.
    olga.page.get_by_label("Pages to reproduce").fill("40")
    olga.page.get_by_role("button", name="Save the fee estimate").click()
    expect(olga.page.locator("#officer-fee-total")).to_contain_text("Total $10.00")
    expect(olga.page.locator("#officer-fee-total")).to_contain_text("waits for prepayment")
    olga.page.get_by_label("Message", exact=True).fill("We found one post; one number is redacted.")
    olga.page.get_by_role("button", name="Send the message").click()
    expect(olga.page.get_by_role("status")).to_contain_text("The message is sent")

    # Granted; the package made after the decision; held until the fee is waived.
    olga.page.get_by_label("Next step").select_option("granted")
    olga.page.get_by_role("button", name="Change status").click()
    olga.page.get_by_role("button", name="Make the package").click()
    wait_for_package(olga)
    pat.page.goto(link)
    expect(pat.page.locator("#fee-held")).to_be_visible()
    expect(pat.page.locator("#fees")).to_contain_text("19.35(3)(a)")
    expect(pat.page.locator("#fees")).to_contain_text("Time spent redacting is never charged")
    expect(
        pat.page.get_by_role("link", name=re.compile("Download the released records"))
    ).to_have_count(0)
    olga.page.goto(olga.page.url.split("?")[0].split("#")[0])
    olga.page.get_by_role("button", name="Waive the fee").click()
    expect(olga.page.get_by_role("status")).to_contain_text("The fee is waived")
    olga.shoot("portal-officer-panel")

    # The requester follows the link again: granted, the message, the package, the letter.
    pat.page.goto(link)
    expect(pat.page.locator("#request-status")).to_have_text("Granted")
    expect(pat.page.locator("#messages")).to_contain_text("We found one post")
    expect(pat.page.locator("#fee-total")).to_contain_text("waived")
    served.append(("tracking page", pat.page.content().encode()))
    pat.shoot("portal-tracking")
    with pat.page.expect_download() as download_info:
        pat.page.get_by_role("link", name=re.compile("Download the released records")).click()
    data = download_info.value.path().read_bytes()
    with zipfile.ZipFile(io.BytesIO(data)) as bag:
        names = bag.namelist()
        assert any(n.endswith("/bagit.txt") for n in names)
        assert any(n.endswith("-redacted.pdf") for n in names)
        for name in names:
            served.append((name, bag.read(name)))
    letter = pat.fetch_link(pat.page.get_by_role("link", name="Read the letter (PDF)"))
    assert letter.body().startswith(b"%PDF")
    served.append(("letter", letter.body()))

    # The reading room: the post is there, redacted; its words find it, the number does not.
    pat.page.get_by_role("link", name="Reading room").first.click()
    pat.page.get_by_label("Words in the post").fill("pool")
    pat.page.get_by_role("button", name="Search").click()
    expect(pat.page.get_by_role("heading", name="1 released post found")).to_be_visible()
    entry = pat.page.locator(".room-item").first
    expect(entry).to_contain_text(f"request {number.group(0)}")
    expect(entry).to_contain_text("[REDACTED: employee's home telephone number")
    served.append(("reading room", pat.page.content().encode()))
    pat.shoot("portal-reading-room")
    pdf = pat.fetch_link(entry.get_by_role("link", name=re.compile("Released PDF")))
    assert pdf.body().startswith(b"%PDF")
    served.append(("reading-room pdf", pdf.body()))
    for query in (SECRET, "555", "0142"):
        pat.page.get_by_label("Words in the post").fill(query)
        pat.page.get_by_role("button", name="Search").click()
        expect(pat.page.get_by_role("heading", name="0 released posts found")).to_be_visible()
    pat.go("/public/reading-room")
    served.append(("reading room, all", pat.page.content().encode()))

    for where, body in served:
        _no_secret_in(body, where)
