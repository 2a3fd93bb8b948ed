"""Bluesky rich text: a post's plain `text` plus `facets` that annotate byte ranges of it.

A facet's `index` counts UTF-8 *bytes* (`byteStart` inclusive, `byteEnd` exclusive), not
characters, so "café #tag" puts the tag at bytes 6..10 but characters 5..9. Facets come from
other people's clients and may be out of range, overlapping, reversed or cut through a
multi-byte character; none of that may crash a capture or change the text, so each bad facet
is either clamped to whole characters or dropped. Pure functions, no I/O.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import quote

from app.platforms.htmltext import find_hashtags

FacetKind = Literal["link", "mention", "tag"]

_LINK = "app.bsky.richtext.facet#link"
_MENTION = "app.bsky.richtext.facet#mention"
_TAG = "app.bsky.richtext.facet#tag"
# Bare URLs in text that carries no link facet (posts made through the API often have none).
_BARE_URL = re.compile(r"https?://[^\s<>\"'()\[\]{}]+", re.IGNORECASE)
_TRAILING_PUNCTUATION = ".,;:!?"


@dataclass(frozen=True)
class FacetSpan:
    """A facet mapped onto the text: characters [start, end) of `kind` pointing at `value`
    (a URI for links, a DID for mentions, the tag without '#' for tags)."""

    start: int
    end: int
    kind: FacetKind
    value: str


@dataclass
class RichText:
    html: str
    links: list[str] = field(default_factory=list)  # http(s) only, in text order, unique
    hashtags: list[str] = field(default_factory=list)  # without '#', unique (case-blind)
    mentions: list[str] = field(default_factory=list)  # DIDs, unique


def _char_starts(text: str) -> list[int]:
    """Byte offset where each character starts, plus the total length at the end."""
    starts = [0] * (len(text) + 1)
    offset = 0
    for index, char in enumerate(text):
        starts[index] = offset
        offset += len(char.encode("utf-8", "surrogatepass"))
    starts[len(text)] = offset
    return starts


def _feature(features: Any) -> tuple[FacetKind, str] | None:
    """The first feature this module understands: (kind, value)."""
    if not isinstance(features, list):
        return None
    for feature in features:
        if not isinstance(feature, dict):
            continue
        kind = feature.get("$type")
        if kind == _LINK and isinstance(feature.get("uri"), str) and feature["uri"]:
            return "link", feature["uri"]
        if kind == _MENTION and isinstance(feature.get("did"), str) and feature["did"]:
            return "mention", feature["did"]
        if kind == _TAG and isinstance(feature.get("tag"), str) and feature["tag"]:
            return "tag", feature["tag"].removeprefix("#")
    return None


def facet_spans(text: str, facets: Any) -> list[FacetSpan]:
    """The usable facets as character spans, sorted, never overlapping.

    A byte offset inside a multi-byte character moves forward to the next character
    boundary (so a start drops the partial character and an end keeps it); offsets are
    clamped to the text; an empty, reversed or overlapping facet is dropped (the earlier
    one wins)."""
    if not isinstance(facets, list) or not text:
        return []
    starts = _char_starts(text)
    total = starts[-1]
    candidates: list[FacetSpan] = []
    for facet in facets:
        if not isinstance(facet, dict):
            continue
        index = facet.get("index")
        found = _feature(facet.get("features"))
        if not isinstance(index, dict) or found is None:
            continue
        byte_start, byte_end = index.get("byteStart"), index.get("byteEnd")
        if not isinstance(byte_start, int) or not isinstance(byte_end, int):
            continue
        if isinstance(byte_start, bool) or isinstance(byte_end, bool):
            continue
        byte_start = min(max(byte_start, 0), total)
        byte_end = min(max(byte_end, 0), total)
        start = bisect_left(starts, byte_start)
        end = bisect_left(starts, byte_end)
        if start >= end:
            continue
        candidates.append(FacetSpan(start, end, found[0], found[1]))
    candidates.sort(key=lambda span: (span.start, -span.end))
    spans: list[FacetSpan] = []
    covered = 0
    for span in candidates:
        if span.start >= covered:
            spans.append(span)
            covered = span.end
    return spans


def is_web_url(uri: str) -> bool:
    return uri.lower().startswith(("https://", "http://"))


def _href(span: FacetSpan) -> str | None:
    if span.kind == "link":
        # Only web links become anchors: a facet is foreign data, and a javascript: or
        # data: URI must never reach a rendered page as a link.
        return span.value if is_web_url(span.value) else None
    if span.kind == "mention":
        return f"https://bsky.app/profile/{quote(span.value, safe=':')}"
    return f"https://bsky.app/hashtag/{quote(span.value, safe='')}"


def _escape(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>")


def render_html(text: str, spans: list[FacetSpan]) -> str:
    """The text as HTML, one paragraph, line breaks as <br>, facets as anchors. Stripping the
    tags and unescaping gives back exactly `text` (with "\\n" for each <br>)."""
    parts: list[str] = ["<p>"]
    position = 0
    for span in spans:
        parts.append(_escape(text[position : span.start]))
        inner = _escape(text[span.start : span.end])
        href = _href(span)
        if href is None:
            parts.append(inner)
        else:
            css = {"link": "", "mention": ' class="mention"', "tag": ' class="hashtag"'}[span.kind]
            parts.append(f'<a href="{html.escape(href, quote=True)}"{css}>{inner}</a>')
        position = span.end
    parts.append(_escape(text[position:]))
    parts.append("</p>")
    return "".join(parts)


def _unique(items: list[str], *, fold: bool = False) -> list[str]:
    seen: set[str] = set()
    result: list[str] = []
    for item in items:
        key = item.lower() if fold else item
        if key not in seen:
            seen.add(key)
            result.append(item)
    return result


def rich_text(text: str, facets: Any) -> RichText:
    """HTML, links, hashtags and mentions of a post's text and facets."""
    spans = facet_spans(text, facets)
    positioned: list[tuple[int, str]] = [
        (span.start, span.value) for span in spans if span.kind == "link" and is_web_url(span.value)
    ]
    for match in _BARE_URL.finditer(text):
        # A bare URL that touches a facet is that facet's text (or a mangled part of it).
        overlaps = any(match.start() < span.end and span.start < match.end() for span in spans)
        if not overlaps:
            positioned.append((match.start(), match.group(0).rstrip(_TRAILING_PUNCTUATION)))
    positioned.sort(key=lambda item: item[0])
    tags = [span.value for span in spans if span.kind == "tag"] + find_hashtags(text)
    return RichText(
        html=render_html(text, spans),
        links=_unique([url for _position, url in positioned]),
        hashtags=_unique(tags, fold=True),
        mentions=_unique([span.value for span in spans if span.kind == "mention"]),
    )
