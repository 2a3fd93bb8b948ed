"""Plain text, links and hashtags out of a platform's markup (no sanitising: the renderer
sanitises before anything shows the HTML)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

_BLOCKS = {
    "p", "div", "blockquote", "li", "ul", "ol", "pre", "h1", "h2", "h3", "h4", "h5", "h6",
    "table", "tr", "section", "article", "header", "footer", "figure", "figcaption", "hr",
}  # fmt: skip
_SKIPPED = {"script", "style", "template", "head"}
_URL = re.compile(r"https?://[^\s<>\"'()\[\]{}]+", re.IGNORECASE)
_HASHTAG = re.compile(r"(?<![\w&/#])#(\w{1,100})", re.UNICODE)
_TRAILING_PUNCTUATION = ".,;:!?"


@dataclass
class HtmlSummary:
    text: str
    links: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)  # without '#', in order, unique


class _Extractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.links: list[str] = []
        self.hashtags: list[str] = []
        self._skip_depth = 0
        self._anchor_kind: list[str] = []  # "link", "mention" or "hashtag" per open <a>
        self._anchor_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            self._skip_depth += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a":
            values = dict(attrs)
            classes = (values.get("class") or "").split()
            href = values.get("href")
            if "hashtag" in classes:
                kind = "hashtag"
            elif "mention" in classes or "u-url" in classes:
                kind = "mention"
            else:
                kind = "link"
                if href and href.lower().startswith(("http://", "https://")):
                    self.links.append(href)
            self._anchor_kind.append(kind)
            self._anchor_text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n")
        elif tag == "a" and self._anchor_kind:
            kind = self._anchor_kind.pop()
            if kind == "hashtag":
                tag_text = "".join(self._anchor_text).strip().lstrip("#")
                if tag_text:
                    self.hashtags.append(tag_text)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        self.parts.append(data)
        if self._anchor_kind:
            self._anchor_text.append(data)


def _tidy(text: str) -> str:
    lines = [" ".join(line.split()) for line in text.replace("\r", "").split("\n")]
    joined = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", joined).strip()


def _unique(items: list[str]) -> list[str]:
    seen: set[str] = set()
    result = []
    for item in items:
        key = item.lower()
        if key not in seen:
            seen.add(key)
            result.append(item)
    return result


def summarise_html(html: str) -> HtmlSummary:
    """Text with paragraph and line breaks kept, links (not mentions or hashtag links) and
    hashtags (from hashtag links, else from '#word' in the text)."""
    extractor = _Extractor()
    extractor.feed(html)
    extractor.close()
    text = _tidy("".join(extractor.parts))
    hashtags = extractor.hashtags or find_hashtags(text)
    return HtmlSummary(text=text, links=extractor.links, hashtags=_unique(hashtags))


def find_urls(text: str) -> list[str]:
    """http(s) URLs in plain text, in order, without trailing sentence punctuation."""
    return [match.group(0).rstrip(_TRAILING_PUNCTUATION) for match in _URL.finditer(text)]


def find_hashtags(text: str) -> list[str]:
    without_urls = _URL.sub(" ", text)
    return _unique([match.group(1) for match in _HASHTAG.finditer(without_urls)])
