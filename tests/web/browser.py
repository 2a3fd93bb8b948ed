"""Browser-test helpers: the app under uvicorn on a loopback port, Debian's chromium driven
by Playwright, and a `Visitor` that does what a person does on the pages.

Flows that need the capture pipeline (tests/web/test_browser_flows.py) give the live server
settings that let it reach a loopback platform server (tests.web.support.capturing_settings)
and use `Visitor.flag`, `Visitor.wait_for_status` and `Visitor.open_snapshot` below.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import (
    APIResponse,
    Browser,
    Locator,
    Page,
    Playwright,
    ViewportSize,
    expect,
)

# scripts/install-browser reads the same variable.
CHROMIUM = os.environ.get("POSTVAULT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SKIP_VARIABLE = "POSTVAULT_SKIP_BROWSER_TESTS"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}


@dataclass
class LiveServer:
    url: str
    server: uvicorn.Server
    thread: threading.Thread


def bind_free_port() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def start_live_server(app: Any, sock: socket.socket | None = None) -> Iterator[LiveServer]:
    """Serve `app` with uvicorn in a thread on 127.0.0.1 and a free port (or on `sock`, bound
    beforehand when the address must be known first: an OAuth redirect URI), until the block
    ends."""
    sock = sock or bind_free_port()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", server, thread)
    finally:
        server.should_exit = True
        thread.join(timeout=20)
        sock.close()


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's chromium, never a downloaded browser. A browser that cannot start fails the
    test run loudly, unless POSTVAULT_SKIP_BROWSER_TESTS is set, which skips with the reason."""
    skip = os.environ.get(SKIP_VARIABLE, "")
    problem: str | None = None
    if not Path(CHROMIUM).exists():
        problem = f"{CHROMIUM} is missing: run scripts/install-browser"
    else:
        try:
            return playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
        except Exception as exc:
            problem = f"chromium at {CHROMIUM} could not be launched: {exc}"
    if skip:
        pytest.skip(f"BROWSER TESTS SKIPPED because {SKIP_VARIABLE} is set ({problem})")
    pytest.fail(f"{problem} (set {SKIP_VARIABLE}=1 to skip the browser tests on purpose)")


class Visitor:
    """One person in one browser context, on the live server."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    def go(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def shoot(self, name: str) -> list[Path]:
        """Full-page screenshots of the current page at phone and desktop width."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        original = self.page.viewport_size
        paths = []
        for label, size in (("phone", PHONE), ("desktop", DESKTOP)):
            self.page.set_viewport_size(size)
            path = SCREENSHOTS / f"{name}-{label}.png"
            self.page.screenshot(path=str(path), full_page=True)
            paths.append(path)
        if original is not None:
            self.page.set_viewport_size(original)
        return paths

    def sign_in(self, email: str, password: str) -> None:
        self.go("/login")
        self.page.get_by_label("Email address").fill(email)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.get_by_role("button", name="Sign out")).to_be_visible()

    def sign_out(self) -> None:
        self.page.get_by_role("button", name="Sign out").click()
        expect(self.page.get_by_text("You are signed out.")).to_be_visible()

    def register_account(self, profile_or_handle: str, platform: str | None = None) -> None:
        self.go("/accounts")
        if platform:
            self.page.get_by_label("Platform").select_option(label=platform)
        self.page.get_by_label("Profile link or handle").fill(profile_or_handle)
        self.page.get_by_role("button", name="Register").click()

    def flag(self, url: str, note: str = "") -> None:
        self.go("/flag")
        self.page.get_by_label("Link to the post").fill(url)
        if note:
            self.page.get_by_label("Note (optional)").fill(note)
        self.page.get_by_role("button", name="Flag this post").click()

    def post_id(self) -> int:
        """The id of the post page the browser is on."""
        path = self.page.url.removeprefix(self.base_url).split("?")[0]
        assert path.startswith("/posts/"), self.page.url
        return int(path.removeprefix("/posts/"))

    def wait_for_status(self, post_id: int, status_name: str, timeout_s: float = 60) -> None:
        """Reload the post page until its status badge reads `status_name` (e.g. "Captured")."""
        deadline = time.monotonic() + timeout_s
        badge = self.page.locator(".facts .status").first
        while True:
            self.go(f"/posts/{post_id}")
            if badge.inner_text().strip() == status_name:
                return
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"post {post_id} still shows '{badge.inner_text()}' after {timeout_s}s"
                )
            time.sleep(0.5)

    def open_snapshot(self, post_id: int, version: int, timeout_s: float = 60) -> APIResponse:
        """Follow the page's PDF link of a version (with this browser's cookies), reloading
        the post page until the link is there: the PDF is rendered just after the capture is
        saved. The answer has the PDF's bytes and headers."""
        link = self.page.locator(f'a[href$="/posts/{post_id}/versions/{version}/snapshot.pdf"]')
        deadline = time.monotonic() + timeout_s
        while True:
            self.go(f"/posts/{post_id}")
            if link.count():
                return self.fetch_link(link)
            if time.monotonic() > deadline:
                raise AssertionError(f"no PDF link for version {version} after {timeout_s}s")
            time.sleep(0.5)

    def fetch_link(self, link: Locator) -> APIResponse:
        """GET what a link on the page points to, as this browser (its cookies)."""
        href = link.get_attribute("href")
        assert href, "the link has no address"
        response = self.page.request.get(self.base_url + href)
        assert response.ok, response.status
        return response


def wait_for_package(officer: Visitor, timeout_s: float = 120) -> None:
    """On a request page: Refresh until the package's download link shows (the page does not
    update by itself); a failed package fails at once."""
    download = officer.page.get_by_role("link", name=re.compile("Download the package"))
    deadline = time.monotonic() + timeout_s
    while not download.is_visible():
        expect(officer.page.locator(".status-package-failed")).to_have_count(0)
        assert time.monotonic() < deadline, "the package was not made in time"
        time.sleep(0.5)
        officer.page.get_by_role("button", name="Refresh").click()
