"""The pages in a real browser (Debian's chromium through Playwright), at phone and desktop
width, with screenshots of each page saved under test-artifacts/screenshots/."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from playwright.sync_api import expect

from app.db import Database, utcnow
from app.open_records.models import RecordsRequest
from app.posts.models import FlaggedPost
from tests.conftest import MakePerson
from tests.web.conftest import MakeVisitor
from tests.web.support import PASSWORD, POST_URL, add_version, employee_with_post, give_password

pytestmark = pytest.mark.browser


def test_employee_registers_an_account_flags_a_post_and_sees_it_with_javascript_off(
    visitor: MakeVisitor, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    give_password(db, person.user)
    ann = visitor(javascript=False)

    ann.go("/flag")  # not signed in: the sign-in page, then back here
    expect(ann.page.get_by_role("heading", name="Sign in")).to_be_visible()
    ann.shoot("login")
    ann.page.get_by_label("Email address").fill(person.user.email)
    ann.page.get_by_label("Password").fill("not the password")
    ann.page.get_by_role("button", name="Sign in").click()
    expect(ann.page.locator("#password-error")).to_have_text(
        "Error: The email address or the password is not right."
    )
    ann.shoot("login-error")
    ann.page.get_by_label("Password").fill(PASSWORD)
    ann.page.get_by_role("button", name="Sign in").click()
    expect(ann.page.get_by_role("heading", name="Flag a post")).to_be_visible()

    # Flagging before the account is registered: the reason next to the field.
    ann.flag(POST_URL)
    error = ann.page.locator("#url-error")
    expect(error).to_contain_text("register it first on the My accounts page")
    expect(ann.page.get_by_label("Link to the post")).to_have_attribute("aria-invalid", "true")
    ann.shoot("flag-error")

    ann.register_account("https://bsky.app/profile/ann.bsky.social")
    expect(ann.page.get_by_role("status")).to_have_text(
        "The account is registered. You can now flag its posts."
    )
    expect(ann.page.get_by_role("link", name="ann.bsky.social")).to_be_visible()
    ann.shoot("accounts")

    ann.flag(POST_URL, note="Pool hours for the summer")
    expect(ann.page.get_by_role("status")).to_contain_text("The post is flagged.")
    expect(ann.page.locator(".facts .status")).to_have_text("Waiting for capture")
    post_id = ann.post_id()
    ann.shoot("post-waiting")

    ann.page.get_by_role("link", name="My posts").click()
    card = ann.page.locator(".card", has_text="Bluesky post by ann.bsky.social")
    expect(card).to_contain_text("Waiting for capture")
    ann.shoot("posts")
    card.get_by_role("link").click()
    assert ann.post_id() == post_id

    ann.sign_out()
    ann.go("/posts")
    expect(ann.page.get_by_role("heading", name="Sign in")).to_be_visible()


def test_keyboard_skip_link_and_visible_focus(
    visitor: MakeVisitor, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    give_password(db, person.user)
    bea = visitor()
    bea.sign_in(person.user.email, PASSWORD)
    bea.go("/flag")
    bea.page.keyboard.press("Tab")
    skip = bea.page.get_by_role("link", name="Skip to main content")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    outline = skip.evaluate("e => getComputedStyle(e).outlineStyle")
    assert outline == "solid"
    bea.page.keyboard.press("Enter")
    assert bea.page.url.endswith("#main")
    # The next Tab lands inside the main content, past the navigation.
    bea.page.keyboard.press("Tab")
    focused = bea.page.evaluate("document.activeElement.closest('main') !== null")
    assert focused
    # The link field has a visible focus ring when reached by keyboard.
    field = bea.page.get_by_label("Link to the post")
    for _ in range(10):
        if field.evaluate("e => e === document.activeElement"):
            break
        bea.page.keyboard.press("Tab")
    expect(field).to_be_focused()
    assert field.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
    bea.shoot("flag-focus")


def test_share_sheet_fills_in_the_link(
    visitor: MakeVisitor, db: Database, make_person: MakePerson
) -> None:
    person = make_person()
    give_password(db, person.user)
    cam = visitor()
    cam.sign_in(person.user.email, PASSWORD)
    cam.go(f"/flag?title=Ann&text=Pool%20news%20{POST_URL}")
    expect(cam.page.get_by_label("Link to the post")).to_have_value(POST_URL)
    expect(cam.page.locator("link[rel=manifest]")).to_have_attribute(
        "href", "/manifest.webmanifest"
    )
    bookmarklet = cam.page.get_by_role("link", name="Flag in PostVault")
    href = bookmarklet.get_attribute("href") or ""
    assert href.startswith("javascript:")
    assert f"{cam.base_url}/flag?url=" in href
    cam.shoot("flag-shared")


def test_admin_creates_a_user_who_then_signs_in(
    visitor: MakeVisitor, db: Database, make_person: MakePerson
) -> None:
    admin = make_person("admin")
    give_password(db, admin.user)
    ada = visitor()
    ada.sign_in(admin.user.email, PASSWORD)
    ada.page.get_by_role("link", name="Users").click()
    form = ada.page.locator("form[action='/admin/users']")
    form.get_by_label("Email address").fill("dee@city.example")
    form.get_by_label("Name").fill("Dee Park")
    form.get_by_label("Role").select_option(label="Employee")
    form.get_by_label("First password (optional)").fill("short")
    form.get_by_role("button", name="Add user").click()
    expect(ada.page.locator("#new-password-error")).to_contain_text("at least 12 characters")
    ada.shoot("users-error")
    form.get_by_label("First password (optional)").fill("dee's first password")
    form.get_by_role("button", name="Add user").click()
    expect(ada.page.get_by_role("status")).to_have_text("The user is created.")
    expect(ada.page.locator(".card", has_text="Dee Park")).to_contain_text(
        "signs in with a password"
    )
    ada.shoot("users")
    ada.sign_out()

    dee = visitor()
    dee.sign_in("dee@city.example", "dee's first password")
    expect(dee.page.get_by_role("heading", name="Flag a post")).to_be_visible()
    expect(dee.page.get_by_role("link", name="Users")).to_have_count(0)
    dee.go("/officer")
    expect(dee.page.get_by_role("heading", name="Not allowed")).to_be_visible()
    dee.shoot("forbidden")


def test_officer_dashboard_and_post_comparison(
    visitor: MakeVisitor, db: Database, make_person: MakePerson
) -> None:
    employee, post_id = employee_with_post(db, make_person)
    add_version(db, post_id, 1, "The pool opens at 9 on Saturday.\nBring a towel.", pdf=True)
    add_version(db, post_id, 2, "The pool opens at 10 on Saturday.\nBring a towel.", pdf=False)
    _bob, failing_id = employee_with_post(db, make_person, handle="bob.bsky.social", rkey="3kfail")
    officer = make_person("records_officer")
    give_password(db, officer.user)
    now = utcnow()
    with db.session() as session:
        post = session.get(FlaggedPost, post_id)
        other = session.get(FlaggedPost, failing_id)
        assert post is not None
        assert other is not None
        post.status = "edited"
        post.first_captured_at = now
        post.last_captured_at = now
        other.status = "failing"
        other.last_error = "the platform answered 503 five times in a row"
        other.failure_count = 5
        other.last_error_at = now
        session.add(
            RecordsRequest(
                number="R-2026-014",
                received_on=now.date() - dt.timedelta(days=21),
                description="Every post about the Saturday pool hours",
                created_by_id=officer.user.id,
                saved_searches=[],
            )
        )
    olga = visitor()
    olga.sign_in(officer.user.email, PASSWORD)
    expect(olga.page.get_by_role("heading", name="Records dashboard")).to_be_visible()
    chart = olga.page.get_by_role("img", name="Posts flagged and first captured per week")
    expect(chart).to_be_visible()
    expect(olga.page.locator("rect.bar-flagged")).to_have_count(12)
    expect(
        olga.page.get_by_text("Why: the platform answered 503 five times in a row")
    ).to_be_visible()
    expect(olga.page.locator(".card", has_text="R-2026-014")).to_contain_text("Overdue")
    olga.shoot("dashboard")

    olga.go(f"/posts/{post_id}")
    expect(olga.page.get_by_role("heading", name="Version 1 to version 2")).to_be_visible()
    expect(olga.page.locator(".diff del")).to_contain_text("9")
    expect(olga.page.locator(".diff ins")).to_contain_text("10")
    expect(olga.page.get_by_role("link", name=re.compile("PDF snapshot"))).to_have_count(1)
    assert employee.user.email in olga.page.content()
    olga.shoot("post-compare")

    olga.go("/officer/posts")
    expect(olga.page.locator(".card")).to_have_count(2)
    olga.shoot("all-posts")
