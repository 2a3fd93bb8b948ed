"""Fixtures for the browser tests (marked `browser`): a live server and chromium."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.platforms.mastodon_like import MastodonInstance, mastodon_instance
from tests.web.browser import PHONE, LiveServer, Visitor, launch_chromium, start_live_server


@pytest.fixture
def live_server(settings: Settings, db: Database) -> Iterator[LiveServer]:
    with start_live_server(create_app(settings, database=db)) as server:
        yield server


@pytest.fixture
def masto() -> Iterator[MastodonInstance]:
    """A Mastodon instance on loopback, with state the test changes (edits, deletions)."""
    with mastodon_instance() as instance:
        yield instance


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


MakeVisitor = Callable[..., Visitor]


@pytest.fixture
def visitor(browser: Browser, live_server: LiveServer) -> Iterator[MakeVisitor]:
    """Makes a person in a fresh browser context (own cookies), phone-sized by default.
    `javascript=False` proves a flow works with JavaScript off."""
    contexts = []

    def make(*, javascript: bool = True) -> Visitor:
        context = browser.new_context(viewport=PHONE, java_script_enabled=javascript)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return Visitor(context.new_page(), live_server.url)

    yield make
    for context in contexts:
        context.close()
