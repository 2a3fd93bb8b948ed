"""A person signs in through the city's provider in a real browser at phone width: PostVault's
sign-in page, the provider's own login and consent pages (npm's oidc-provider on loopback),
back to PostVault signed in as a new employee."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect
from pydantic import SecretStr

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.oidc_provider import oidc_provider, web_client
from tests.web.browser import PHONE, LiveServer, start_live_server

pytestmark = pytest.mark.browser
SECRET = "browser-sso-secret-51f2"


@pytest.fixture
def sso_server(settings: Settings, db: Database, tmp_path: Path) -> Iterator[LiveServer]:
    app = create_app(settings, database=db)
    with start_live_server(app) as server:
        clients = [
            web_client(
                "postvault",
                SECRET,
                f"{server.url}/login/oidc/callback",
                f"{server.url}/login?signed_out=1",
            )
        ]
        accounts = {"ann": {"email": "ann@city.example", "email_verified": True, "name": "Ann Lee"}}
        with oidc_provider(tmp_path, clients=clients, accounts=accounts) as provider:
            # The port is known once the server listens; the client is made on first use.
            app.state.settings = settings.model_copy(
                update={
                    "oidc_issuer": provider.issuer,
                    "oidc_client_id": "postvault",
                    "oidc_client_secret": SecretStr(SECRET),
                    "oidc_provider_name": "City Login",
                    "oidc_allowed_domains": "city.example",
                    "public_url": server.url,
                }
            )
            yield server


def test_sign_in_with_the_city_provider_at_phone_width(
    browser: Browser, sso_server: LiveServer
) -> None:
    context = browser.new_context(viewport=PHONE)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        page.goto(sso_server.url + "/login")
        page.get_by_role("link", name="Sign in with City Login").click()
        page.locator("input[name=login]").fill("ann")
        page.locator("input[name=password]").fill("any password")
        page.locator("button[type=submit]").click()
        page.locator("button[type=submit]").click()  # the provider's consent page
        expect(page.get_by_role("button", name="Sign out")).to_be_visible()
        assert page.url.startswith(sso_server.url)
        expect(page.get_by_text("Ann Lee")).to_be_visible()
    finally:
        context.close()
