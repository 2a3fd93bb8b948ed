"""Issue 15's done-when, in a real browser at phone width: an employee connects a Facebook
Page through the loopback OAuth provider (its own login and consent pages), flags a Page post
by its pfbid URL and sees it captured with its comments and a PDF; then an Instagram carousel
post by its shortcode URL. The app's own scheduler captures from the loopback Graph API."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from pypdf import PdfReader

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.conftest import MakePerson
from tests.connections.conftest import PAGE_ID, PFBID, meta_world_for
from tests.platforms.instagram.test_instagram import SHORTCODE
from tests.platforms.instagram.test_instagram import seed as seed_instagram
from tests.web.browser import PHONE, Visitor, bind_free_port, start_live_server
from tests.web.support import PASSWORD, give_password

pytestmark = pytest.mark.browser

CDN = "https://scontent-gmp1-1.cdninstagram.com/"


def pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def test_connect_a_page_flag_by_pfbid_then_an_instagram_carousel(
    browser: Browser, settings: Settings, db: Database, make_person: MakePerson, tmp_path: Path
) -> None:
    sock = bind_free_port()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    live_settings = settings.model_copy(
        update={"run_scheduler": True, "capture_interval_seconds": 1}
    )
    with meta_world_for(tmp_path, live_settings, f"{base}/connections/callback") as world:
        seed_instagram(world.graph)
        # The recorded media live on Meta's CDN: the loopback server serves them instead.
        for path, body in list(world.graph.objects.items()):
            text = json.dumps(body).replace(CDN, f"{world.server.base_url}/media/cdn/")
            world.graph.objects[path] = json.loads(text)
        person = make_person()
        give_password(db, person.user)
        app = create_app(world.settings, database=db)
        with start_live_server(app, sock) as live:
            context = browser.new_context(viewport=PHONE)
            context.set_default_timeout(15_000)
            try:
                ann = Visitor(context.new_page(), live.url)
                ann.sign_in(person.user.email, PASSWORD)
                ann.go("/accounts")
                ann.page.get_by_role("link", name="Connect Facebook / Instagram / Threads").click()
                # The provider's own pages: sign in, then consent.
                ann.page.locator("input[name=login]").fill("ann")
                ann.page.locator("input[name=password]").fill("any password")
                ann.page.locator("button[type=submit]").first.click()
                ann.page.get_by_role("button", name="Continue").click()
                expect(ann.page.get_by_role("heading", name="Choose a Page")).to_be_visible()
                ann.shoot("meta-choose-page")
                ann.page.get_by_role("button", name="Register MyLife").click()
                expect(ann.page.get_by_role("status")).to_contain_text("The account is connected.")
                ann.shoot("meta-connected")

                ann.flag(f"https://www.facebook.com/{PAGE_ID}/posts/{PFBID}")
                expect(ann.page.get_by_role("status")).to_contain_text("The post is flagged.")
                post_id = ann.post_id()
                ann.wait_for_status(post_id, "Captured")
                expect(ann.page.locator("#version-1")).to_contain_text("Ninja Van")
                expect(ann.page.locator("#grant")).to_contain_text("valid until")
                pdf = ann.open_snapshot(post_id, 1)
                # The comments received are in the PDF, read by an independent reader.
                text = pdf_text(pdf.body())
                assert "Replies received (5)" in text
                assert "Mantap halo" in text
                ann.shoot("meta-facebook-captured")

                ann.flag(f"https://www.instagram.com/p/{SHORTCODE}/")
                expect(ann.page.get_by_role("status")).to_contain_text("The post is flagged.")
                carousel = ann.post_id()
                ann.wait_for_status(carousel, "Captured")
                expect(ann.page.locator("#version-1")).to_contain_text("ALBUM")
                ann.shoot("meta-instagram-captured")
            finally:
                context.close()
