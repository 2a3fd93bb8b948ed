"""Loopback sites shaped like the ones employees post on, for browser captures.

`SocialSite` serves a public post behind a cookie wall (a Facebook-style consent dialog that
covers the page until dismissed) with a "View more comments" button that loads the rest of
the thread by fetch(); its state changes under the test (a comment added, the post removed
with 410, the post put behind a login redirect, an "isn't available" page).
"""

from __future__ import annotations

import html
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from tests.loopback import Loopback, Reply, serve

POST_TEXT = "Road closure on Main Street this weekend for the water main repair."
FIRST_COMMENTS = [("c1", "Dana Reader", "Thanks for the heads up!")]
MORE_COMMENTS = [("c2", "Lee Neighbour", "Will the bus still run?")]


@dataclass
class SiteState:
    author_name: str = "Pat Employee"
    author_url: str = "/pat.employee"
    text: str = POST_TEXT
    comments: list[tuple[str, str, str]] = field(default_factory=lambda: list(FIRST_COMMENTS))
    more_comments: list[tuple[str, str, str]] = field(default_factory=lambda: list(MORE_COMMENTS))
    gone: int | None = None  # 404 or 410
    login_wall: bool = False
    unavailable_page: bool = False
    image: bytes = b""


def _comment_html(items: list[tuple[str, str, str]]) -> str:
    return "".join(
        f'<div class="comment" id="{cid}" itemscope itemtype="https://schema.org/Comment">'
        f'<span itemprop="author">{html.escape(who)}</span>'
        f'<p itemprop="text">{html.escape(what)}</p></div>'
        for cid, who, what in items
    )


def post_page(state: SiteState, base: str, path: str) -> str:
    ld = {
        "@context": "https://schema.org",
        "@type": "SocialMediaPosting",
        "headline": state.text[:40],
        "author": {"@type": "Person", "name": state.author_name, "url": base + state.author_url},
    }
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(state.author_name)} - Main Street update</title>
<link rel="canonical" href="{base}{path}">
<meta property="og:title" content="Main Street update">
<script type="application/ld+json">{json.dumps(ld)}</script>
<style>
  #consent {{ position: fixed; inset: 0; background: rgba(0,0,0,.8); color: #fff; z-index: 9; }}
  article {{ font: 16px sans-serif; max-width: 40em; margin: 2em auto; }}
</style></head>
<body>
<div id="consent" role="dialog" aria-label="Cookies">
  <p>Allow the use of cookies by this site?</p>
  <button data-cookiebanner="accept_only_essential_button"
          onclick="document.getElementById('consent').remove()">Only allow essential cookies</button>
  <button data-cookiebanner="accept_button"
          onclick="document.getElementById('consent').remove()">Allow all cookies</button>
</div>
<nav><a href="/">Home</a> <a href="/login">Log in</a></nav>
<article>
  <h1>Main Street update</h1>
  <p class="byline"><a rel="author" href="{state.author_url}">{html.escape(state.author_name)}</a></p>
  <div class="post-body"><p>{html.escape(state.text)}</p>
  <p>Detours are signed from First Avenue, and residents keep access to their driveways.
  Crews start at seven in the morning on Saturday and finish on Sunday evening.</p></div>
  {'<img src="/photo.png" alt="Map of the closure" width="320" height="200">' if state.image else ""}
  <section id="comments">{_comment_html(state.comments)}</section>
  <button id="more" onclick="loadMore()">View more comments</button>
</article>
<script>
async function loadMore() {{
  const r = await fetch('/api/comments?after=1');
  const items = await r.json();
  for (const c of items) {{
    const d = document.createElement('div');
    d.className = 'comment'; d.id = c.id;
    d.setAttribute('itemscope', ''); d.setAttribute('itemtype', 'https://schema.org/Comment');
    d.innerHTML = '<span itemprop="author"></span><p itemprop="text"></p>';
    d.children[0].textContent = c.author; d.children[1].textContent = c.text;
    document.getElementById('comments').appendChild(d);
  }}
  document.getElementById('more').remove();
}}
</script>
</body></html>"""


LOGIN_PAGE = """<!doctype html><html><head><title>Log in</title></head><body>
<form method="post" action="/login"><label>Email <input name="email"></label>
<label>Password <input type="password" name="pass"></label><button>Log in</button></form>
</body></html>"""

UNAVAILABLE_PAGE = """<!doctype html><html><head><title>Content not found</title></head>
<body><h2>This content isn't available right now</h2><p>When this happens, it's usually
because the owner only shared it with a small group of people.</p></body></html>"""


@contextmanager
def social_site(state: SiteState) -> Iterator[Loopback]:
    holder: dict[str, str] = {}

    def handle(_method: str, path: str, _headers: dict[str, str], _body: bytes) -> Reply:
        base = holder["base"]
        bare = path.split("?", 1)[0]
        if bare == "/api/comments":
            items = [{"id": c, "author": a, "text": t} for c, a, t in state.more_comments]
            return Reply.json(items)
        if bare == "/photo.png":
            return Reply(200, state.image, {"Content-Type": "image/png"})
        if bare.startswith("/login"):
            return Reply(200, LOGIN_PAGE.encode(), {"Content-Type": "text/html"})
        if bare.startswith(("/pat.employee/posts/", "/groups/")):
            if state.gone:
                return Reply(state.gone, b"<h1>Gone</h1>", {"Content-Type": "text/html"})
            if state.login_wall:
                return Reply(302, b"", {"Location": f"/login/?next={bare}"})
            if state.unavailable_page:
                return Reply(200, UNAVAILABLE_PAGE.encode(), {"Content-Type": "text/html"})
            page = post_page(state, base, bare).encode()
            return Reply(200, page, {"Content-Type": "text/html; charset=utf-8"})
        if bare == "/share/abc":
            return Reply(301, b"", {"Location": "/pat.employee/posts/1001"})
        return Reply(404, b"<h1>Not found</h1>", {"Content-Type": "text/html"})

    with serve(handle) as site:
        holder["base"] = site.base_url
        yield site


class ConnectionCounter:
    """A loopback port that counts every TCP connection made to it (and answers HTTP), so a
    test can prove that nothing reached it, not even a preconnect."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self._socket.settimeout(0.2)
        self.port: int = self._socket.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecret")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._socket.close()


@contextmanager
def forbidden_port() -> Iterator[ConnectionCounter]:
    counter = ConnectionCounter()
    try:
        yield counter
    finally:
        counter.close()


def pdf_attachments(pdf: bytes) -> dict[str, bytes]:
    """The PDF's embedded files by name, read with pikepdf (an independent reader)."""
    import io

    import pikepdf

    with pikepdf.Pdf.open(io.BytesIO(pdf)) as document:
        return {name: spec.get_file().read_bytes() for name, spec in document.attachments.items()}


def pdf_image_count(pdf: bytes) -> int:
    import io

    import pikepdf

    with pikepdf.Pdf.open(io.BytesIO(pdf)) as document:
        return sum(len(list(page.get_images())) for page in document.pages)
