"""Issue 13 item 10: a hostile capture's `javascript:` (and data:, file:, vbscript:) addresses
in author profiles, link cards, replies, quotes, links and post HTML never become links in
the PDF; each stays visible as text. Read back with pikepdf, independent of WeasyPrint."""

from __future__ import annotations

import io
from typing import Any

import pikepdf

from app.collectors.base import Author, EmbeddedPost
from app.snapshots.render import render_snapshot, sanitize_html  # old
from app.weblinks import web_url
from tests.factories import make_view, mastodon_capture
from tests.snapshots.test_render import page_text

HOSTILE = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(2)",
    "java\tscript:alert(3)",
    " javascript:alert(4)",
    "data:text/html,<script>alert(5)</script>",
    "file:///etc/passwd",
    "vbscript:msgbox(6)",
    "javascript://example.gov/%0Aalert(7)",
    "//example.gov/protocol-relative",
    "mailto:clerk@city.example",
]


def test_only_absolute_http_addresses_are_web_links() -> None:
    for url in HOSTILE:
        assert web_url(url) is None, url
    for url in ("https://example.gov/a?b=c#d", "http://city.example/", "HTTPS://EXAMPLE.GOV/"):
        assert web_url(url) == url
    cleaned = sanitize_html(
        '<p><a href="javascript:alert(1)">one</a> <a href="/relative">two</a> '
        '<a href="https://example.gov/ok">three</a></p>'
    )
    assert "javascript" not in cleaned
    assert "/relative" not in cleaned
    assert 'href="https://example.gov/ok"' in cleaned


def _actions(pdf: pikepdf.Pdf) -> list[dict[str, Any]]:
    """Every action in the document: link annotations, page and document actions."""
    found: list[dict[str, Any]] = []
    for page in pdf.pages:
        for annot in page.obj.get("/Annots", []):
            action = annot.get("/A")
            if action is not None:
                found.append({"S": str(action.get("/S")), "URI": str(action.get("/URI", ""))})
        if "/AA" in page.obj:
            found.append({"S": "page additional action", "URI": ""})
    root = pdf.Root
    if "/OpenAction" in root or "/AA" in root:
        found.append({"S": "document action", "URI": ""})
    if "/Names" in root and "/JavaScript" in root.Names:
        found.append({"S": "document JavaScript", "URI": ""})
    return found


def test_a_hostile_capture_renders_no_link_but_http() -> None:
    post, media = mastodon_capture()
    hostile_author = Author(
        handle="mallory@evil.example", display_name="Mallory", profile_url="javascript:alert(10)"
    )
    assert post.link_card is not None
    post = post.model_copy(
        update={
            "author": post.author.model_copy(update={"profile_url": "JaVaScRiPt:alert(11)"}),
            "html": (post.html or "") + '<p><a href="javascript:alert(12)">click me</a> '
            '<a href="java&#x09;script:alert(13)">tabbed</a> '
            '<a href="data:text/html,x">data</a> <a href="mailto:x@y.example">mail</a></p>',
            "link_card": post.link_card.model_copy(update={"url": "javascript:alert(14)"}),
            "links": ["javascript:alert(15)", "https://example.gov/kept", "file:///etc/passwd"],
            "replies": [
                reply.model_copy(update={"url": "java\tscript:alert(16)", "author": hostile_author})
                for reply in post.replies
            ],
            "quote_of": EmbeddedPost(
                url="vbscript:msgbox(17)",
                author=hostile_author,
                text="quoted",
            ),
        }
    )
    pdf_bytes = render_snapshot(make_view(post, media))
    with pikepdf.open(io.BytesIO(pdf_bytes)) as pdf:
        actions = _actions(pdf)
    assert actions, "the snapshot has no links at all"
    assert {a["S"] for a in actions} == {"/URI"}, actions
    uris = [a["URI"] for a in actions]
    assert all(uri.startswith(("https://", "http://")) for uri in uris), uris
    assert "https://example.gov/kept" in uris  # a web link in the same list stays a link
    assert post.url in uris
    text = page_text(pdf_bytes)
    # The refused addresses are still shown, as text, for the record.
    assert "javascript:alert(14)" in text
    assert "javascript:alert(15)" in text
    assert "click me" in text
