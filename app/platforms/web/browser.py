"""Browser capture of one public page: Debian's chromium driven by Playwright.

One browser per worker (a `BrowserCapturer`), started on first use and reused; a fresh
context per capture (no cookies, cache or storage carried from one page to the next). Every
request goes through the guard (`guard.py`); what was fetched becomes the WARC. The page is
tidied the way a person would before saving it (consent banner dismissed, "see more" and
comment threads expanded, scrolled to load lazy parts), each step bounded, the whole capture
under a time limit.

Playwright's sync API is bound to the thread that started it: a capturer is used by one
thread (a worker owns one).
"""

from __future__ import annotations

import datetime as dt
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    Request,
    Route,
    WebSocketRoute,
    sync_playwright,
)
from playwright.sync_api import (
    Error as PlaywrightError,
)

from app.platforms.http import FetchPolicy, describe_url
from app.platforms.web.guard import (
    MAX_REDIRECTS,
    BrowserFetcher,
    DeadProxy,
    GuardLog,
    Refusal,
    check_address,
    page_headers,
    redirect_target,
)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--dns-prefetch-disable",
    "--mute-audio",
]
VIEWPORT = {"width": 1280, "height": 900}
QUIET = 0.25  # seconds without a request that count as "the page is done" after a step

# Consent and cookie walls of the sites employees post on, and the common consent tools.
CONSENT_SELECTORS = (
    '[data-cookiebanner="accept_only_essential_button"]',  # Facebook, Instagram
    '[data-cookiebanner="accept_button"]',
    '[data-testid="cookie-policy-manage-dialog-accept-button"]',
    "#onetrust-reject-all-handler",
    "#onetrust-accept-btn-handler",
    'button[data-control-name="ga-cookie.consent.deny.v4"]',  # LinkedIn
    'button[action-type="DENY"]',
    "#CybotCookiebotDialogBodyButtonDecline",
    "#didomi-notice-disagree-button",
    ".fc-cta-do-not-consent",
    "tiktok-cookie-banner button:last-child",
)
CONSENT_TEXT = re.compile(
    r"^\s*(only allow essential cookies|decline optional cookies|reject all|reject"
    r"|allow all cookies|accept all|accept|i agree|agree)\s*$",
    re.IGNORECASE,
)
# "See more" on a long post; "View more comments", "3 more replies" on threads.
EXPAND_TEXT = re.compile(
    r"^\s*(see more|show more|read more|…\s*more"
    r"|(view|see|show|load) (more|all|previous|\d+ more) (comments|replies|answers)"
    r"|(view|show) \d+ (more )?(comments|replies)"
    r"|\d+ more (comments|replies))\s*$",
    re.IGNORECASE,
)
LOGIN_PATH = re.compile(
    r"/(login|log-in|signin|sign-in|sign_in|accounts/login|uas/login|checkpoint|authwall)\b",
    re.IGNORECASE,
)
_COMMENT_SELECTORS = (
    '[itemtype$="schema.org/Comment"]',
    '[data-testid="comment"]',
    '[role="article"][aria-label^="Comment"]',
    "shreddit-comment",
    "article.comment",
    "li.comment",
    "div.comment",
)

_PAGE_FACTS_JS = """
(selectors) => {
  const meta = {};
  for (const el of document.querySelectorAll('meta[property], meta[name]')) {
    const key = (el.getAttribute('property') || el.getAttribute('name') || '').toLowerCase();
    if (key && !(key in meta)) meta[key] = el.getAttribute('content') || '';
  }
  const jsonld = [];
  for (const el of document.querySelectorAll('script[type="application/ld+json"]')) {
    jsonld.push(el.textContent || '');
  }
  const link = (rel) => { const el = document.querySelector(`link[rel~="${rel}"]`);
                          return el ? el.href : null; };
  const authors = [...document.querySelectorAll('a[rel~="author"]')].map(a => ({
      href: a.href, text: (a.textContent || '').trim()}));
  const comments = [];
  for (const el of document.querySelectorAll(selectors.join(','))) {
    if (el.parentElement && el.parentElement.closest(selectors.join(','))) continue;
    const authorEl = el.querySelector('[itemprop="author"], .author, [data-testid="comment-author"]');
    const bodyEl = el.querySelector('[itemprop="text"], .comment-body, [data-testid="comment-text"]');
    comments.push({
      id: el.id || el.getAttribute('data-id') || el.getAttribute('thingid') || null,
      author: authorEl ? authorEl.textContent.trim() : null,
      text: (bodyEl || el).innerText.trim(),
    });
  }
  const images = [...document.images].filter(i => i.naturalWidth >= 200 && i.naturalHeight >= 150)
      .map(i => ({src: i.currentSrc || i.src, alt: i.alt || null}));
  return {meta, jsonld, canonical: link('canonical'), author_link: link('author'),
          authors, comments, images, has_password: !!document.querySelector('input[type=password]')};
}
"""


_VISIBLE_JS = """
const visible = (el) => { const r = el.getBoundingClientRect(); const st = getComputedStyle(el);
  return r.width > 0 && r.height > 0 && st.visibility !== 'hidden' && st.display !== 'none'; };
"""
_CONSENT_JS = (
    """([selectors, pattern]) => {"""
    + _VISIBLE_JS
    + """
  for (const sel of selectors) {
    const el = document.querySelector(sel);
    if (el && visible(el)) { el.click(); return sel; }
  }
  const re = new RegExp(pattern, 'i');
  for (const el of document.querySelectorAll('button, [role=button]')) {
    if (visible(el) && re.test((el.innerText || '').trim())) { el.click(); return 'by its text'; }
  }
  return null;
}"""
)
# Presses the first visible "see more" / "view more comments" not pressed before (a button
# that stays after a press, like "show more" toggles, is pressed once).
_EXPAND_JS = (
    """(pattern) => {"""
    + _VISIBLE_JS
    + """
  const re = new RegExp(pattern, 'i');
  for (const el of document.querySelectorAll('button, a, [role=button]')) {
    if (el.dataset.postvaultPressed) continue;
    const label = (el.innerText || el.getAttribute('aria-label') || '').trim();
    if (label && re.test(label) && visible(el)) {
      el.dataset.postvaultPressed = '1';
      el.click();
      return label;
    }
  }
  return null;
}"""
)


@dataclass(frozen=True)
class CaptureLimits:
    timeout_seconds: float = 60.0
    max_requests: int = 400
    max_bytes: int = 100 * 1024 * 1024
    max_resource_bytes: int = 25 * 1024 * 1024
    scroll_steps: int = 12
    expand_steps: int = 12


@dataclass
class PageCapture:
    """What one browser capture of a page saw and kept."""

    requested_url: str
    final_url: str
    status: int | None  # of the main document, after redirects; None when it never answered
    redirects: list[str]
    started_at: dt.datetime
    finished_at: dt.datetime
    title: str = ""
    html: str = ""
    canonical_url: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    screenshot_png: bytes | None = None
    log: GuardLog = field(default_factory=GuardLog)
    steps: list[str] = field(default_factory=list)  # what was dismissed, expanded, scrolled
    error: str | None = None  # the capture could not finish (timeout, browser crash)
    pending_redirect: str | None = None  # a main-frame redirect the capture follows itself
    last_activity: float = 0.0  # monotonic time the guard last saw a request start or end

    @property
    def login_wall(self) -> bool:
        """Sent to a sign-in form instead of the page."""
        if describe_url(self.final_url) == describe_url(self.requested_url):
            return False
        return bool(LOGIN_PATH.search(self.final_url.split("?", 1)[0])) or bool(
            self.facts.get("has_password")
        )


class _Deadline:
    def __init__(self, seconds: float) -> None:
        self.end = time.monotonic() + seconds

    def left_ms(self, at_most: float | None = None) -> float:
        left = max(0.0, (self.end - time.monotonic()) * 1000)
        return min(left, at_most) if at_most is not None else left

    @property
    def over(self) -> bool:
        return time.monotonic() >= self.end


class BrowserCapturer:
    """One chromium for one worker, reused across captures, callable from any thread.

    Playwright's sync API belongs to the thread that started it (and refuses to start in a
    thread that already runs one), so the browser lives on a thread of its own and captures
    are handed to it one at a time."""

    def __init__(self, chromium: str, limits: CaptureLimits) -> None:
        self.chromium = chromium
        self.limits = limits
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postvault-browser")
        self._session = _BrowserSession(chromium, limits)

    def capture(
        self, url: str, policy: FetchPolicy, *, storage_state: dict[str, Any] | None = None
    ) -> PageCapture:
        """Load `url` in a fresh context and keep what it shows. Never raises for what the
        page does: a timeout or crash is recorded in `error` with whatever was kept."""
        future = self._thread.submit(self._session.capture, url, policy, storage_state)
        return future.result()

    @property
    def browser_pid(self) -> int | None:
        return self._session.browser_pid

    def close(self) -> None:
        try:
            self._thread.submit(self._session.close).result()
        except RuntimeError:
            # At interpreter exit the executor is shut down before atexit handlers run; the
            # Playwright driver and its chromium end with this process.
            pass
        finally:
            self._thread.shutdown(wait=True)

    def __enter__(self) -> BrowserCapturer:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


class _BrowserSession:
    """The Playwright objects, used only on the capturer's thread."""

    def __init__(self, chromium: str, limits: CaptureLimits) -> None:
        self.chromium = chromium
        self.limits = limits
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._proxy: DeadProxy | None = None

    def _ensure_browser(self) -> Browser:
        if self._browser is not None and self._browser.is_connected():
            return self._browser
        if self._playwright is None:
            self._playwright = sync_playwright().start()
        if self._proxy is None:
            self._proxy = DeadProxy()
        self._browser = self._playwright.chromium.launch(
            executable_path=self.chromium,
            headless=True,
            args=CHROMIUM_ARGS + self._proxy.chromium_args,
        )
        return self._browser

    @property
    def browser_pid(self) -> int | None:
        """The browser's process id (for the benchmark's memory figures), when known."""
        process = getattr(self._browser, "_impl_obj", None)
        return getattr(process, "_pid", None) if process else None

    def close(self) -> None:
        if self._browser is not None:
            try:
                self._browser.close()
            except PlaywrightError:
                pass
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None

    # -----------------------------------------------------------------------------------------

    def capture(
        self, url: str, policy: FetchPolicy, storage_state: dict[str, Any] | None
    ) -> PageCapture:
        deadline = _Deadline(self.limits.timeout_seconds)
        started = dt.datetime.now(dt.UTC)
        result = PageCapture(
            requested_url=url,
            final_url=url,
            status=None,
            redirects=[],
            started_at=started,
            finished_at=started,
        )
        refused = check_address(url, policy)
        if refused is not None:
            result.log.refusals.append(Refusal(describe_url(url), refused))
            result.error = f"refused to capture {describe_url(url)}: {refused}"
            result.finished_at = dt.datetime.now(dt.UTC)
            return result
        browser = self._ensure_browser()
        context = browser.new_context(
            viewport={"width": VIEWPORT["width"], "height": VIEWPORT["height"]},
            service_workers="block",
            accept_downloads=False,
            locale="en-US",
            storage_state=storage_state,  # type: ignore[arg-type]
        )
        fetcher = BrowserFetcher(
            policy,
            max_requests=self.limits.max_requests,
            max_bytes=self.limits.max_bytes,
            max_resource_bytes=self.limits.max_resource_bytes,
        )
        try:
            self._route(context, result, fetcher, deadline)
            page = context.new_page()
            page.on("dialog", lambda dialog: dialog.dismiss())
            page.set_default_timeout(5000)
            self._load(page, url, result, deadline)
            if result.error is None and result.status is not None and result.status < 400:
                self._tidy(page, result, deadline)
            if result.status is not None:
                self._read(page, result, deadline)
        except PlaywrightError as exc:
            result.error = f"the browser failed: {_first_line(exc)}"
        finally:
            try:
                context.close()
            except PlaywrightError:
                pass
            fetcher.close()
        if result.error is None and deadline.over:
            result.error = (
                f"the capture's time limit of {self.limits.timeout_seconds:g} s was reached"
            )
        result.finished_at = dt.datetime.now(dt.UTC)
        return result

    def _route(
        self,
        context: BrowserContext,
        result: PageCapture,
        fetcher: BrowserFetcher,
        deadline: _Deadline,
    ) -> None:
        policy = fetcher.policy

        def on_request(route: Route, request: Request) -> None:
            result.last_activity = time.monotonic()
            try:
                headers = request.all_headers()
            except PlaywrightError:
                headers = request.headers
            main_navigation = request.is_navigation_request() and request.frame.parent_frame is None
            got = fetcher.fetch(
                result.log,
                request.method,
                request.url,
                headers,
                request.post_data_buffer,
                follow_redirects=not main_navigation,
                seconds_left=deadline.left_ms() / 1000,
            )
            try:
                if got is None:
                    route.abort("blockedbyclient")
                    return
                exchange, body = got
                target = redirect_target(exchange) if main_navigation else None
                if target is not None:
                    result.pending_redirect = target
                    route.abort("aborted")
                    return
                route.fulfill(status=exchange.status, headers=page_headers(exchange), body=body)
            except PlaywrightError:
                pass  # the page went away meanwhile
            finally:
                result.last_activity = time.monotonic()

        def on_websocket(ws: WebSocketRoute) -> None:
            reason = check_address(ws.url, policy)
            shown = describe_url(ws.url)
            if reason is not None:
                result.log.refusals.append(Refusal(shown, reason, "websocket"))
            else:
                result.log.refusals.append(
                    Refusal(shown, "WebSockets are not connected in a capture", "websocket")
                )
            ws.close(code=1008, reason="refused by PostVault")

        context.route("**/*", on_request)
        context.route_web_socket(re.compile(".*"), on_websocket)

    def _load(self, page: Page, url: str, result: PageCapture, deadline: _Deadline) -> None:
        """Navigate, following the main frame's redirects hop by hop (each hop a request the
        guard checks), so the page ends on its real address."""
        target = url
        response = None
        for _hop in range(MAX_REDIRECTS + 1):
            result.pending_redirect = None
            try:
                response = page.goto(target, wait_until="load", timeout=deadline.left_ms())
            except PlaywrightError as exc:
                if result.pending_redirect is None:
                    result.error = f"the page did not load: {_first_line(exc)}"
                    return
            if result.pending_redirect is None:
                break
            result.redirects.append(target)
            target = result.pending_redirect
        else:
            result.error = f"more than {MAX_REDIRECTS} redirects"
            return
        if response is None:
            result.error = "the page did not load"
            return
        result.status = response.status
        result.final_url = page.url
        self._settle(page, result, deadline, at_most=3.0)

    def _settle(
        self, page: Page, result: PageCapture, deadline: _Deadline, *, at_most: float
    ) -> None:
        """Let the page finish what it started: every request passes through the route
        handler, so the page is quiet once no request has come or gone for QUIET seconds
        (Playwright's "networkidle" waits a fixed 500 ms, too long for 20 captures a minute).
        A page that keeps polling is captured as it is after `at_most`."""
        until = time.monotonic() + at_most
        while not deadline.over and time.monotonic() < until:
            if time.monotonic() - result.last_activity >= QUIET:
                return
            page.wait_for_timeout(40)

    def _tidy(self, page: Page, result: PageCapture, deadline: _Deadline) -> None:
        self._dismiss_consent(page, result, deadline)
        self._expand(page, result, deadline)
        self._scroll(page, result, deadline)
        self._expand(page, result, deadline)  # threads that appeared lower down
        page.evaluate("window.scrollTo(0, 0)")

    def _dismiss_consent(self, page: Page, result: PageCapture, deadline: _Deadline) -> None:
        # One round trip finds and presses the banner's button: each Playwright call costs a
        # round trip to the browser, and a dozen selectors tried one by one cost a second.
        try:
            found = page.evaluate(_CONSENT_JS, [list(CONSENT_SELECTORS), CONSENT_TEXT.pattern])
        except PlaywrightError:
            return
        if found:
            self._settle(page, result, deadline, at_most=1.5)
            result.steps.append(f"dismissed consent banner ({found})")

    def _expand(self, page: Page, result: PageCapture, deadline: _Deadline) -> None:
        clicked = 0
        while clicked < self.limits.expand_steps and not deadline.over:
            try:
                label = page.evaluate(_EXPAND_JS, EXPAND_TEXT.pattern)
            except PlaywrightError:
                return  # the page navigated or went away
            if not label:
                return
            clicked += 1
            result.steps.append(f"expanded: {str(label)[:60]}")
            self._settle(page, result, deadline, at_most=1.5)

    def _scroll(self, page: Page, result: PageCapture, deadline: _Deadline) -> None:
        for step in range(self.limits.scroll_steps):
            if deadline.over:
                return
            at_bottom = page.evaluate(
                "() => { window.scrollBy(0, window.innerHeight);"
                " return window.innerHeight + window.scrollY >= document.body.scrollHeight - 2; }"
            )
            self._settle(page, result, deadline, at_most=0.8)
            if at_bottom:
                result.steps.append(f"scrolled to the end ({step + 1} steps)")
                return
        result.steps.append(f"scrolling stopped after {self.limits.scroll_steps} steps")

    def _read(self, page: Page, result: PageCapture, deadline: _Deadline) -> None:
        result.final_url = page.url
        timeout = max(deadline.left_ms(), 5000.0)  # keep what was loaded even when late
        result.html = page.content()
        result.title = page.title()
        result.facts = page.evaluate(_PAGE_FACTS_JS, list(_COMMENT_SELECTORS))
        result.canonical_url = result.facts.get("canonical")
        result.screenshot_png = page.screenshot(
            full_page=True, type="png", timeout=timeout, animations="disabled"
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
