"""Facets (UTF-8 byte ranges) onto text: properties over any Unicode text, and examples."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.platforms.bluesky.atproto import did_document_url, parse_at_uri, pds_endpoint
from app.platforms.bluesky.text import facet_spans, render_html, rich_text

# Any code point but lone surrogates (JSON text from a PDS is valid UTF-8).
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
URLS = st.sampled_from(
    ["https://example.gov/notice", "http://a.test/x?y=1&z=<2>", 'https://ex.test/"quote"']
)


def link_facet(start: int, end: int, uri: str) -> dict[str, Any]:
    return {
        "index": {"byteStart": start, "byteEnd": end},
        "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}],
    }


def plain(rendered: str) -> str:
    """The text a reader sees in the rendering."""
    return html.unescape(re.sub(r"<[^>]+>", "", rendered.replace("<br>", "\n")))


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


@settings(max_examples=300)
@given(before=TEXT, label=TEXT.filter(bool), after=TEXT, uri=URLS)
def test_link_lands_on_its_substring(before: str, label: str, after: str, uri: str) -> None:
    text = before + label + after
    start = utf8_len(before)
    facets = [link_facet(start, start + utf8_len(label), uri)]
    [span] = facet_spans(text, facets)
    assert text[span.start : span.end] == label
    rendered = render_html(text, [span])
    anchor = f'<a href="{html.escape(uri, quote=True)}">'
    assert anchor in rendered
    inside = rendered.split(anchor, 1)[1].split("</a>", 1)[0]
    assert plain(inside) == label
    assert plain(rendered) == text
    assert uri in rich_text(text, facets).links


FACET = st.fixed_dictionaries(
    {
        "index": st.fixed_dictionaries(
            {
                "byteStart": st.integers(min_value=-5, max_value=300),
                "byteEnd": st.integers(min_value=-5, max_value=300),
            }
        ),
        "features": st.lists(
            st.sampled_from(
                [
                    {"$type": "app.bsky.richtext.facet#link", "uri": "https://x.test/"},
                    {"$type": "app.bsky.richtext.facet#link", "uri": "javascript:alert(1)"},
                    {"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:abc"},
                    {"$type": "app.bsky.richtext.facet#tag", "tag": "tag"},
                    {"$type": "app.bsky.richtext.facet#unknown"},
                    "junk",
                ]
            ),
            max_size=2,
        ),
    }
)
JUNK = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=3))


@settings(max_examples=300)
@given(text=TEXT, facets=st.one_of(st.lists(st.one_of(FACET, JUNK), max_size=6), JUNK))
def test_any_facets_never_crash_nor_change_the_text(text: str, facets: Any) -> None:
    spans = facet_spans(text, facets)
    previous_end = 0
    for span in spans:
        assert previous_end <= span.start < span.end <= len(text)
        previous_end = span.end
    result = rich_text(text, facets)
    assert plain(result.html) == text
    assert 'href="javascript' not in result.html
    assert all(link.startswith(("http://", "https://")) for link in result.links)


def test_multibyte_offsets() -> None:
    text = "Café ☕ #budget at https://city.test/b 👍🏽 @clerk.test"
    encoded = text.encode()
    tag_start = encoded.index(b"#budget")
    link_start = encoded.index(b"https://")
    mention_start = encoded.index(b"@clerk")
    facets = [
        {
            "index": {"byteStart": mention_start, "byteEnd": len(encoded)},
            "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:clerk"}],
        },
        {
            "index": {"byteStart": tag_start, "byteEnd": tag_start + 7},
            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "budget"}],
        },
        link_facet(link_start, link_start + len("https://city.test/b"), "https://city.test/b"),
    ]
    result = rich_text(text, facets)
    assert result.html == (
        '<p>Café ☕ <a href="https://bsky.app/hashtag/budget" class="hashtag">#budget</a> at '
        '<a href="https://city.test/b">https://city.test/b</a> 👍🏽 '
        '<a href="https://bsky.app/profile/did:plc:clerk" class="mention">@clerk.test</a></p>'
    )
    assert result.links == ["https://city.test/b"]
    assert result.hashtags == ["budget"]
    assert result.mentions == ["did:plc:clerk"]


def test_truncated_link_text_keeps_the_full_uri() -> None:
    text = "Agenda: city.test/agenda/2026-0… see you\nthere <3"
    shown = "city.test/agenda/2026-0…"
    start = text.encode().index(shown.encode())
    full = "https://city.test/agenda/2026-01-15.pdf"
    result = rich_text(text, [link_facet(start, start + len(shown.encode()), full)])
    assert result.links == [full]
    assert result.html == (f'<p>Agenda: <a href="{full}">{shown}</a> see you<br>there &lt;3</p>')


def test_offset_inside_a_character_snaps_to_a_boundary() -> None:
    text = "é!"  # é is two bytes
    [span] = facet_spans(text, [link_facet(1, 3, "https://x.test/")])
    assert (span.start, span.end) == (1, 2)  # the cut character is left out
    [span] = facet_spans(text, [link_facet(0, 1, "https://x.test/")])
    assert (span.start, span.end) == (0, 1)  # an end inside é keeps é whole


def test_overlapping_facets_keep_the_first() -> None:
    text = "abcdef"
    spans = facet_spans(
        text, [link_facet(0, 4, "https://one.test/"), link_facet(2, 6, "https://two.test/")]
    )
    assert [(s.start, s.end, s.value) for s in spans] == [(0, 4, "https://one.test/")]


def test_non_web_link_is_not_an_anchor() -> None:
    result = rich_text("click", [link_facet(0, 5, "javascript:alert(1)")])
    assert result.html == "<p>click</p>"
    assert result.links == []


def test_hashtags_from_text_without_facets() -> None:
    assert rich_text("Council #PublicRecord and #publicrecord #budget", None).hashtags == [
        "PublicRecord",
        "budget",
    ]


# --- identifiers ---------------------------------------------------------------------------


def test_parse_at_uri() -> None:
    uri = parse_at_uri("at://Alice.Test/app.bsky.feed.post/3k2abc")
    assert (uri.authority, uri.collection, uri.rkey) == (
        "alice.test",
        "app.bsky.feed.post",
        "3k2abc",
    )
    did = parse_at_uri("at://did:plc:AbC/app.bsky.feed.post/3k2abc")
    assert did.authority == "did:plc:AbC"  # DIDs keep their case


@pytest.mark.parametrize(
    "value",
    [
        "https://bsky.app/profile/a.test/post/1",
        "at://a.test/app.bsky.feed.post",
        "at://not a handle/app.bsky.feed.post/1",
        "at://a.test/app.bsky.feed.post/..",
        "at://a.test/app.bsky.feed.post/1/2",
    ],
)
def test_parse_at_uri_refuses(value: str) -> None:
    with pytest.raises(ValueError, match="at://|handle|record key"):
        parse_at_uri(value)


def test_did_document_url() -> None:
    assert did_document_url("did:plc:abc", "https://plc.test/") == "https://plc.test/did:plc:abc"
    assert (
        did_document_url("did:web:example.com", "https://plc.test")
        == "https://example.com/.well-known/did.json"
    )
    assert (
        did_document_url("did:web:example.com%3A8443", "https://plc.test")
        == "https://example.com:8443/.well-known/did.json"
    )
    for bad in ("did:web:example.com:path:x", "did:key:z6Mk", "did:web:"):
        with pytest.raises(ValueError, match="did"):
            did_document_url(bad, "https://plc.test")


def test_pds_endpoint() -> None:
    doc = {
        "id": "did:plc:abc",
        "service": [
            {"id": "#bsky_fg", "serviceEndpoint": "https://feed.test"},
            {"id": "did:plc:abc#atproto_pds", "serviceEndpoint": "https://pds.test/"},
        ],
    }
    assert pds_endpoint(doc) == "https://pds.test"
    doc["service"] = [{"id": "#atproto_pds", "serviceEndpoint": "file:///etc/passwd"}]
    assert pds_endpoint(doc) is None
    assert pds_endpoint({"service": "junk"}) is None
    assert pds_endpoint(["junk"]) is None
