"""Browser capture on loopback sites: what chromium saw becomes a WACZ that py-wacz validates,
the post's own response reads back out with warcio, and the SSRF guard holds for everything
the page asks for."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from app.platforms.http import FetchPolicy
from app.platforms.web.browser import BrowserCapturer
from app.platforms.web.extract import comments, main_text
from app.platforms.web.wacz import capture_wacz, index_urls, records, validate_wacz
from tests.loopback import Reply, serve
from tests.platforms.web.sites import POST_TEXT, SiteState, forbidden_port, social_site

pytestmark = pytest.mark.browser


def policy_for(*netlocs: str) -> FetchPolicy:
    return FetchPolicy(allow_hosts=frozenset(netlocs), timeout=10)


def test_public_post_behind_a_cookie_wall_with_more_comments(
    capturer: BrowserCapturer, tmp_path: Path
) -> None:
    state = SiteState()
    with social_site(state) as site:
        url = f"{site.base_url}/pat.employee/posts/1001"
        page = capturer.capture(url, policy_for(site.netloc))

    assert page.error is None, page.error
    assert page.status == 200
    assert page.final_url == url
    assert page.canonical_url == url
    assert page.title == "Pat Employee - Main Street update"
    assert any("consent" in step for step in page.steps), page.steps
    assert "expanded: View more comments" in page.steps
    found = comments(page.facts["comments"])
    assert [c.id for c in found] == ["c1", "c2"]  # the second came from "View more comments"
    assert found[1].author == "Lee Neighbour"
    text = main_text(page.html, page.final_url)
    assert POST_TEXT in text

    # The screenshot is a real PNG of the whole page, taken after the wall was dismissed.
    assert page.screenshot_png is not None
    shot = Image.open(io.BytesIO(page.screenshot_png))
    assert shot.format == "PNG"
    assert shot.width == 1280
    assert shot.height >= 400
    # The consent overlay (80% black over everything) is gone: the page's top is light.
    top = shot.convert("L").crop((0, 0, 1280, 40)).resize((1, 1), Image.Resampling.BOX)
    assert top.getpixel((0, 0)) == pytest.approx(255, abs=55)

    wacz = capture_wacz(page, text)
    assert wacz is not None
    path = tmp_path / "capture.wacz"
    path.write_bytes(wacz)
    check = validate_wacz(path, max_unpacked_bytes=100 * 1024 * 1024)
    assert check.valid, check.problems
    assert check.version == "1.1.1"
    assert url in index_urls(path)
    responses = {
        uri: (payload, status) for kind, uri, payload, status in records(path) if kind == "response"
    }
    post_body, post_status = responses[url]
    assert post_status == 200
    assert POST_TEXT.encode() in post_body
    comments_url = f"{site.base_url}/api/comments?after=1"
    assert b"Will the bus still run?" in responses[comments_url][0]
    requests = [uri for kind, uri, _payload, _status in records(path) if kind == "request"]
    assert url in requests


def test_redirects_are_followed_hop_by_hop_and_recorded(capturer: BrowserCapturer) -> None:
    with social_site(SiteState()) as site:
        page = capturer.capture(f"{site.base_url}/share/abc", policy_for(site.netloc))
    assert page.status == 200
    assert page.redirects == [f"{site.base_url}/share/abc"]
    assert page.final_url == f"{site.base_url}/pat.employee/posts/1001"
    assert [(e.url.removeprefix(site.base_url), e.status) for e in page.log.exchanges][:2] == [
        ("/share/abc", 301),
        ("/pat.employee/posts/1001", 200),
    ]
    assert not page.login_wall


def test_a_redirect_to_a_login_form_is_seen_as_a_login_wall(capturer: BrowserCapturer) -> None:
    with social_site(SiteState(login_wall=True)) as site:
        page = capturer.capture(f"{site.base_url}/pat.employee/posts/1001", policy_for(site.netloc))
    assert page.status == 200
    assert page.final_url.startswith(f"{site.base_url}/login/")
    assert page.login_wall


def test_a_410_is_kept_with_its_status(capturer: BrowserCapturer) -> None:
    with social_site(SiteState(gone=410)) as site:
        page = capturer.capture(f"{site.base_url}/pat.employee/posts/1001", policy_for(site.netloc))
    assert page.status == 410
    assert page.error is None


def test_dialogs_are_dismissed_and_the_capture_goes_on(capturer: BrowserCapturer) -> None:
    body = (
        b"<html><head><title>Alerting</title></head><body><p>Before.</p>"
        b"<script>alert('hello'); confirm('sure?'); document.body.insertAdjacentHTML("
        b"'beforeend', '<p id=after>After the dialogs.</p>')</script></body></html>"
    )
    with serve(lambda *_: Reply(200, body, {"Content-Type": "text/html"})) as site:
        page = capturer.capture(site.base_url + "/", policy_for(site.netloc))
    assert page.error is None
    assert "After the dialogs." in page.html


def test_a_large_response_is_refused_past_the_cap() -> None:
    from app.platforms.web.browser import CaptureLimits
    from tests.platforms.web.conftest import chromium_or_skip

    big = b"x" * 300_000

    def handle(_m: str, path: str, _h: dict[str, str], _b: bytes) -> Reply:
        if path == "/big.bin":
            return Reply(200, big, {"Content-Type": "application/octet-stream"})
        return Reply(
            200,
            b"<html><title>t</title><body>x<script>fetch('/big.bin')</script></body></html>",
            {"Content-Type": "text/html"},
        )

    limits = CaptureLimits(timeout_seconds=30, max_resource_bytes=100_000)
    with serve(handle) as site, BrowserCapturer(chromium_or_skip(), limits) as small:
        page = small.capture(site.base_url + "/", policy_for(site.netloc))
    assert page.status == 200
    refused = [r for r in page.log.refusals if r.url.endswith("/big.bin")]
    assert refused
    assert refused[0].kind == "limit"
    assert all(not e.url.endswith("/big.bin") for e in page.log.exchanges)


def test_the_whole_capture_is_time_limited() -> None:
    import threading

    from app.platforms.web.browser import CaptureLimits
    from tests.platforms.web.conftest import chromium_or_skip

    release = threading.Event()

    def handle(_m: str, path: str, _h: dict[str, str], _b: bytes) -> Reply:
        if path == "/slow.js":
            release.wait(20)  # never answers within the capture's limit
            return Reply(200, b"", {"Content-Type": "text/javascript"})
        return Reply(
            200,
            b"<html><title>slow</title><body><script src='/slow.js'></script></body></html>",
            {"Content-Type": "text/html"},
        )

    limits = CaptureLimits(timeout_seconds=2)
    try:
        with serve(handle) as site, BrowserCapturer(chromium_or_skip(), limits) as quick:
            page = quick.capture(site.base_url + "/", policy_for(site.netloc))
            release.set()
    finally:
        release.set()
    assert page.error is not None
    assert "time limit" in page.error or "did not load" in page.error


def test_nothing_the_page_asks_for_reaches_a_private_address(capturer: BrowserCapturer) -> None:
    """Images, scripts, stylesheets, iframes, fetch(), XHR, a WebSocket, a service worker, a
    preconnect and redirects from the allowed site itself, all aimed at loopback ports that
    are not allow-listed: none is ever connected to."""
    with forbidden_port() as secret, forbidden_port() as other:
        s, o = secret.port, other.port
        targets = [
            f"http://127.0.0.1:{s}/image.png",
            f"https://127.0.0.1:{s}/script.js",
            f"https://localhost:{o}/style.css",
            f"http://[::1]:{o}/frame",
            f"https://127.0.0.1:{o}/fetch",
        ]
        page_html = f"""<html><head><title>Sneaky</title>
<link rel="preconnect" href="https://127.0.0.1:{s}">
<link rel="dns-prefetch" href="https://localhost:{o}">
<link rel="stylesheet" href="{targets[2]}">
<script src="{targets[1]}"></script></head><body>
<p>A page that tries to reach the city's network.</p>
<img src="{targets[0]}"><img src="/bounce-image">
<iframe src="{targets[3]}"></iframe><iframe src="/bounce-frame"></iframe>
<script>
fetch("{targets[4]}").catch(() => {{}});
fetch("/bounce-fetch").catch(() => {{}});
const x = new XMLHttpRequest(); x.open("GET", "http://127.0.0.1:{s}/xhr"); x.send();
try {{ new WebSocket("ws://127.0.0.1:{s}/ws"); }} catch (e) {{}}
try {{ new WebSocket("wss://127.0.0.1:{o}/ws"); }} catch (e) {{}}
if (navigator.serviceWorker) navigator.serviceWorker.register("/sw.js").catch(() => {{}});
navigator.sendBeacon && navigator.sendBeacon("http://127.0.0.1:{s}/beacon", "x");
</script></body></html>"""

        def handle(_m: str, path: str, _h: dict[str, str], _b: bytes) -> Reply:
            if path.startswith("/bounce-"):
                return Reply(302, b"", {"Location": f"https://127.0.0.1:{s}/{path[8:]}"})
            if path == "/sw.js":
                return Reply(
                    200,
                    b"self.addEventListener('fetch', () => {});",
                    {"Content-Type": "text/javascript"},
                )
            if path == "/leave":
                return Reply(302, b"", {"Location": f"https://127.0.0.1:{o}/admin"})
            return Reply(200, page_html.encode(), {"Content-Type": "text/html"})

        with serve(handle) as site:
            page = capturer.capture(site.base_url + "/", policy_for(site.netloc))
            away = capturer.capture(site.base_url + "/leave", policy_for(site.netloc))
            direct = capturer.capture(f"https://127.0.0.1:{s}/", policy_for(site.netloc))

        assert secret.connections == 0
        assert other.connections == 0

    assert page.status == 200
    refused = {r.url: r for r in page.log.refusals}
    for target in targets:
        assert target in refused, (target, sorted(refused))
    for bounced in ("image", "frame", "fetch"):
        assert f"https://127.0.0.1:{s}/{bounced}" in refused
    assert refused[f"https://127.0.0.1:{s}/image"].reason.endswith("a loopback address")
    assert f"ws://127.0.0.1:{s}/ws" in refused
    assert refused[f"wss://127.0.0.1:{o}/ws"].kind == "websocket"
    assert "loopback" in refused[f"wss://127.0.0.1:{o}/ws"].reason
    assert all(site.netloc in e.url for e in page.log.exchanges)
    # A main-frame redirect into the private network stops at the guard.
    assert f"https://127.0.0.1:{o}/admin" in {r.url for r in away.log.refusals}
    assert away.error is not None
    # And a capture aimed straight at it never starts.
    assert direct.error is not None
    assert "loopback" in direct.error
