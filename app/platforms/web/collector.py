"""The web collector: a browser capture of the post's page, turned into a version or an
outcome.

The version's content (what its hash covers) is the page's main text, title, comments and
the images it showed (by their bytes' SHA-256); the WACZ and the screenshot are kept beside
it as version files. A 404/410, a recognised site's "isn't available" page, or a redirect to
a login form is an outcome, never an empty version.
"""

from __future__ import annotations

import atexit
import hashlib
import threading
from dataclasses import replace
from typing import Any

import httpx

from app.config import Settings
from app.platforms.collected import (
    Author,
    CapturedFile,
    CaptureTarget,
    CollectedPost,
    CollectResult,
    Deleted,
    MediaRef,
    NotVisible,
    RateLimited,
    Reply,
    TransientFailure,
)
from app.platforms.http import FetchPolicy, describe_url, policy_from_settings
from app.platforms.web import urls

VERSION = "web/1"
WACZ_TYPE = "application/wacz"
_lock = threading.Lock()
_shared: dict[tuple[str, Any], Any] = {}


def shared_capturer(settings: Settings) -> Any:
    """The process's browser (one per worker process, reused), started on first use."""
    from app.platforms.web.browser import BrowserCapturer, CaptureLimits

    limits = CaptureLimits(
        timeout_seconds=settings.web_capture_timeout_seconds,
        max_requests=settings.web_capture_max_requests,
        max_bytes=settings.web_capture_max_bytes,
        max_resource_bytes=settings.web_capture_max_resource_bytes,
        scroll_steps=settings.web_capture_scroll_steps,
        expand_steps=settings.web_capture_expand_steps,
    )
    key = (settings.chromium, limits)
    with _lock:
        capturer = _shared.get(key)
        if capturer is None:
            capturer = BrowserCapturer(settings.chromium, limits)
            _shared[key] = capturer
            atexit.register(capturer.close)
        return capturer


def browser_policy(settings: Settings) -> FetchPolicy:
    return replace(
        policy_from_settings(settings), max_bytes=settings.web_capture_max_resource_bytes
    )


class WebCollector:
    platform = urls.PLATFORM_ID
    version = VERSION

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.site_hosts = urls.parse_site_hosts(settings.web_site_hosts)

    def collect(self, target: CaptureTarget, client: httpx.Client) -> CollectResult:
        try:
            capturer = shared_capturer(self.settings)
        except ImportError as exc:
            return TransientFailure(
                error=f"browser capture is not installed ({exc.name}): install postvault[browser]"
            )
        page = capturer.capture(target.url, browser_policy(self.settings))
        return self.result(target, page)

    def result(self, target: CaptureTarget, page: Any) -> CollectResult:
        """Judge what the browser saw (a `PageCapture`)."""
        from app.platforms.web.extract import (
            check_author,
            comments,
            main_text,
            unavailable_phrase,
        )
        from app.platforms.web.wacz import capture_wacz

        requests = len(page.log.exchanges)
        shown = describe_url(target.url)
        if page.status is None or (page.error and page.status < 400):
            return TransientFailure(
                error=page.error or f"{shown} did not answer", http_requests=requests
            )
        if page.status in (404, 410):
            return Deleted(
                reason=f"the page answered HTTP {page.status}",
                source={"status": page.status, "final_url": page.final_url},
                http_requests=requests,
            )
        if page.status == 429:
            import datetime as dt

            return RateLimited(
                host=urls.host_of(target.url),
                retry_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=15),
                http_requests=requests,
            )
        if page.status >= 400:
            return TransientFailure(
                error=f"{shown} answered HTTP {page.status}", http_requests=requests
            )
        if page.login_wall:
            return NotVisible(
                reason=(
                    f"the site sent PostVault to a login page ({describe_url(page.final_url)}): "
                    "the post is not public; upload what you see in your browser instead"
                ),
                http_requests=requests,
            )
        site = urls.recognised_site(target.url, self.site_hosts)
        text = main_text(page.html, page.final_url)
        phrase = unavailable_phrase(site.id if site else None, f"{page.title}\n{text}")
        if phrase is not None:
            return Deleted(
                reason=f'{site.name if site else "the site"} shows "{phrase}"',
                source={"status": page.status, "final_url": page.final_url},
                http_requests=requests,
            )

        profile = target.account_profile_url or target.account_handle
        author_check = check_author(page.facts, profile, target.account_handle)
        found = comments(page.facts.get("comments") or [])
        files: list[CapturedFile] = []
        media = self._media(page, files)
        wacz = capture_wacz(page, text)
        if wacz is not None:
            files.append(
                CapturedFile(role="wacz", mime_type=WACZ_TYPE, sha256=_sha(wacz), data=wacz)
            )
        if page.screenshot_png:
            files.append(
                CapturedFile(
                    role="screenshot",
                    mime_type="image/png",
                    sha256=_sha(page.screenshot_png),
                    data=page.screenshot_png,
                )
            )
        stated = author_check.found[0] if author_check.found else None
        return CollectedPost(
            platform=urls.PLATFORM_ID,
            post_id=target.external_id,
            url=target.url,
            author=Author(
                handle=target.account_handle,
                display_name=stated if stated and "://" not in stated else None,
                profile_url=target.account_profile_url,
            ),
            text=text,
            title=page.title or None,
            media=media,
            replies=[
                Reply(id=c.id, author=Author(handle=c.author or "unknown"), text=c.text)
                for c in found
            ],
            extra={
                "site": site.id if site else None,
                "final_url": page.final_url,
                "canonical_url": page.canonical_url,
                "author_check": author_check.as_dict(),
            },
            source={
                "capture": {
                    "requested_url": page.requested_url,
                    "final_url": page.final_url,
                    "status": page.status,
                    "redirects": page.redirects,
                    "title": page.title,
                    "canonical_url": page.canonical_url,
                    "started_at": page.started_at.isoformat(),
                    "finished_at": page.finished_at.isoformat(),
                    "steps": page.steps,
                    "requests": requests,
                    "bytes": page.log.bytes_fetched,
                    "refused": [
                        {"url": r.url, "reason": r.reason, "kind": r.kind}
                        for r in page.log.refusals
                    ],
                    "failures": page.log.failures,
                    "metadata": {
                        "meta": page.facts.get("meta", {}),
                        "jsonld": page.facts.get("jsonld", []),
                    },
                    "wacz_sha256": _sha(wacz) if wacz else None,
                }
            },
            http_requests=requests,
            files=files,
        )

    def _media(self, page: Any, files: list[CapturedFile]) -> list[MediaRef]:
        """The post's images, from the bytes the browser already fetched (not fetched again)."""
        by_url = {
            e.url: e
            for e in page.log.exchanges
            if e.status == 200
            and any(
                k.lower() == "content-type" and v.lower().startswith("image/")
                for k, v in e.response_headers
            )
        }
        from app.platforms.web.guard import decoded_body

        refs: list[MediaRef] = []
        seen: set[str] = set()
        for image in page.facts.get("images") or []:
            exchange = by_url.get(str(image.get("src")))
            if exchange is None:
                continue
            try:
                data = decoded_body(exchange, self.settings.media_cap)
            except Exception:  # an image whose body cannot be read is left out, not fatal
                continue
            digest = _sha(data)
            if digest in seen:
                continue
            seen.add(digest)
            mime = next(
                (
                    v.split(";")[0].strip().lower()
                    for k, v in exchange.response_headers
                    if k.lower() == "content-type"
                ),
                "application/octet-stream",
            )
            files.append(CapturedFile(role="media", mime_type=mime, sha256=digest, data=data))
            refs.append(
                MediaRef(
                    url=exchange.url,
                    role="image",
                    mime_type=mime,
                    alt_text=image.get("alt"),
                    sha256=digest,
                    size=len(data),
                )
            )
        return refs


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
