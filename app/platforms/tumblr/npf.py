"""Tumblr's content, NPF blocks or legacy HTML, into text, HTML, media and links: pure.

NPF (the Neue Post Format, what `npf=true` answers) is a list of content blocks (`text` with
a `subtype` and `formatting` ranges, `image` with every size in `media`, `video` and `audio`
hosted by Tumblr (`media`) or by another provider (`url`, `embed_html`), `link`, `poll`) and
a `layout` that may mark some blocks as an `ask` (another blog's question answered in the
post). Legacy answers (what Tumblr serves without `npf=true`, and posts made before NPF) carry
HTML in `body` / `caption` / `answer`, with photos in `photos[].alt_sizes` and NPF blocks of
video left in `data-npf` attributes; both are read.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from app.platforms.collected import LinkCard, MediaRef
from app.platforms.htmltext import summarise_html

_HEADINGS = {"heading1": "h1", "heading2": "h2", "quote": "blockquote", "indented": "blockquote"}
_LIST_ITEMS = {"ordered-list-item", "unordered-list-item"}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class Content:
    """What a post's (or a trail item's) content says."""

    text: str = ""
    html: str = ""
    media: list[MediaRef] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    link_card: LinkCard | None = None
    notes: list[str] = field(default_factory=list)  # what could not be kept, and why
    ask: dict[str, Any] | None = None  # {"asker": ..., "text": ...} of an answered ask

    def add_link(self, url: str | None) -> None:
        if url and url not in self.links:
            self.links.append(url)


def _largest(sizes: list[Any]) -> dict[str, Any] | None:
    """The biggest of an image's sizes (Tumblr lists several of one picture)."""
    usable = [s for s in sizes if isinstance(s, dict) and _str(s.get("url"))]
    if not usable:
        return None
    originals = [s for s in usable if s.get("has_original_dimensions")]
    return max(originals or usable, key=lambda s: _int(s.get("width")) or 0)


def _image(block: dict[str, Any], content: Content) -> None:
    best = _largest(_list(block.get("media")))
    if best is None:
        content.notes.append("an image block names no file")
        return
    content.media.append(
        MediaRef(
            url=best["url"],
            role="gifv" if best.get("type") == "image/gif" else "image",
            mime_type=_str(best.get("type")),
            alt_text=_str(block.get("alt_text")),
            width=_int(best.get("width")),
            height=_int(best.get("height")),
        )
    )
    caption = _str(block.get("caption"))
    content.html += f'<figure><img src="{html.escape(best["url"])}"/>'
    content.html += (
        f"<figcaption>{html.escape(caption)}</figcaption></figure>" if caption else "</figure>"
    )
    if caption:
        content.text += caption + "\n\n"


def _av(block: dict[str, Any], content: Content, role: str) -> None:
    """A video or audio block: Tumblr's own file is kept; another provider's is a link."""
    media = _dict(block.get("media"))
    if isinstance(block.get("media"), list):  # some answers list sizes
        media = _largest(_list(block.get("media"))) or {}
    url = _str(media.get("url"))
    provider = _str(block.get("provider")) or "tumblr"
    if url:
        content.media.append(
            MediaRef(
                url=url,
                role="video" if role == "video" else "audio",
                mime_type=_str(media.get("type")),
                width=_int(media.get("width")),
                height=_int(media.get("height")),
            )
        )
        content.html += f'<{role} controls src="{html.escape(url)}"></{role}>'
    else:
        link = _str(block.get("url"))
        content.add_link(link)
        content.notes.append(
            f"the {role} is hosted by {provider}: its link is kept, not the file"
            if link
            else f"a {role} block names no file"
        )
        if link:
            content.html += f'<p><a href="{html.escape(link)}">{html.escape(link)}</a></p>'
    poster = _largest(_list(block.get("poster")))
    if poster is not None:
        content.media.append(MediaRef(url=poster["url"], role="thumbnail"))
    for key in ("title", "artist", "album"):
        if _str(block.get(key)):
            content.text += f"{block[key]}\n"


def _text(block: dict[str, Any], content: Content) -> None:
    raw = block.get("text")
    text = raw if isinstance(raw, str) else ""
    pieces: list[str] = []
    cursor = 0
    links = sorted(
        (
            f
            for f in _list(block.get("formatting"))
            if isinstance(f, dict) and f.get("type") in ("link", "mention")
        ),
        key=lambda f: _int(f.get("start")) or 0,
    )
    for item in links:
        start, end = _int(item.get("start")), _int(item.get("end"))
        if start is None or end is None or start < cursor or end > len(text) or start >= end:
            continue
        if item.get("type") == "link":
            href = _str(item.get("url"))
            content.add_link(href)
        else:
            href = _str(_dict(item.get("blog")).get("url"))
        pieces.append(html.escape(text[cursor:start]))
        inner = html.escape(text[start:end])
        pieces.append(f'<a href="{html.escape(href)}">{inner}</a>' if href else inner)
        cursor = end
    pieces.append(html.escape(text[cursor:]))
    subtype = _str(block.get("subtype")) or ""
    tag = "li" if subtype in _LIST_ITEMS else _HEADINGS.get(subtype, "p")
    content.html += f"<{tag}>{''.join(pieces)}</{tag}>"
    content.text += ("• " if subtype == "unordered-list-item" else "") + text + "\n\n"


def _link(block: dict[str, Any], content: Content) -> None:
    url = _str(block.get("url"))
    if not url:
        return
    content.add_link(url)
    poster = _largest(_list(block.get("poster")))
    card = LinkCard(
        url=url,
        title=_str(block.get("title")),
        description=_str(block.get("description")),
        thumb=MediaRef(url=poster["url"], role="link_thumb") if poster else None,
    )
    if content.link_card is None:
        content.link_card = card
    label = html.escape(card.title or url)
    content.html += f'<p><a href="{html.escape(url)}">{label}</a></p>'


def _ask_blocks(layout: list[Any]) -> tuple[set[int], str | None]:
    for item in layout:
        if isinstance(item, dict) and item.get("type") == "ask":
            blocks = {b for b in _list(item.get("blocks")) if isinstance(b, int)}
            asker = _str(_dict(_dict(item.get("attribution")).get("blog")).get("name"))
            return blocks, asker or "anonymous"
    return set(), None


def from_blocks(blocks: list[Any], layout: list[Any] | None = None) -> Content:
    """NPF content blocks (and their layout) as a Content."""
    content = Content()
    ask_blocks, asker = _ask_blocks(_list(layout))
    ask = Content()
    for index, block in enumerate(blocks):
        if not isinstance(block, dict):
            continue
        target = ask if index in ask_blocks else content
        kind = block.get("type")
        if kind == "text":
            _text(block, target)
        elif kind == "image":
            _image(block, target)
        elif kind in ("video", "audio"):
            _av(block, target, str(kind))
        elif kind == "link":
            _link(block, target)
        elif kind == "poll":
            question = _str(block.get("question")) or ""
            answers = [
                str(a.get("answer_text"))
                for a in _list(block.get("answers"))
                if isinstance(a, dict) and a.get("answer_text")
            ]
            target.text += f"{question}\n" + "".join(f"○ {a}\n" for a in answers) + "\n"
            target.html += f"<p>{html.escape(question)}</p><ul>"
            target.html += "".join(f"<li>{html.escape(a)}</li>" for a in answers) + "</ul>"
        else:
            target.notes.append(f"a content block of type {kind!r} is kept in the source only")
    if asker is not None:
        content.ask = {"asker": asker, "text": ask.text.strip()}
        content.text = f"{asker} asked: {ask.text.strip()}\n\n{content.text}"
        content.html = f"<blockquote>{ask.html}</blockquote>{content.html}"
        content.media = ask.media + content.media
        content.links = ask.links + [x for x in content.links if x not in ask.links]
    content.text = content.text.strip()
    return content


# --- legacy HTML ------------------------------------------------------------------------------


class _MediaInHtml(HTMLParser):
    """`<img>` (the largest of its srcset), `<video>`/`<source>`, and the NPF block a
    `<figure data-npf='…'>` carries (Tumblr's legacy rendering of a video block)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.media: list[MediaRef] = []
        self.seen: set[str] = set()
        self._in_npf = 0

    def add(self, ref: MediaRef) -> None:
        if ref.url not in self.seen:
            self.seen.add(ref.url)
            self.media.append(ref)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "figure" and values.get("data-npf"):
            try:
                block = json.loads(values["data-npf"])
            except ValueError:
                block = None
            if isinstance(block, dict) and block.get("type") in ("video", "audio"):
                found = Content()
                _av(block, found, str(block["type"]))
                for ref in found.media:
                    self.add(ref)
                self._in_npf += 1
                return
        if self._in_npf:
            if tag == "figure":
                self._in_npf += 1
            return
        if tag == "img" and values.get("src"):
            best, width = values["src"], 0
            for candidate in values.get("srcset", "").split(","):
                bits = candidate.strip().split()
                if len(bits) == 2 and bits[1].endswith("w") and bits[1][:-1].isdigit():
                    if int(bits[1][:-1]) > width:
                        best, width = bits[0], int(bits[1][:-1])
            self.add(MediaRef(url=best, role="image", alt_text=values.get("alt") or None))
        elif tag in ("video", "source", "audio") and values.get("src"):
            role = "audio" if tag == "audio" or "audio" in values.get("type", "") else "video"
            self.add(MediaRef(url=values["src"], role=role, mime_type=values.get("type") or None))

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure" and self._in_npf:
            self._in_npf -= 1


def media_in_html(markup: str) -> list[MediaRef]:
    parser = _MediaInHtml()
    parser.feed(markup)
    parser.close()
    return parser.media


def from_html(markup: str) -> Content:
    summary = summarise_html(markup)
    return Content(text=summary.text, html=markup, media=media_in_html(markup), links=summary.links)


def from_legacy(post: dict[str, Any]) -> Content:
    """A legacy-format post: its HTML fields and photos."""
    parts = [
        str(post[key])
        for key in ("question", "answer", "body", "caption", "description", "text", "source")
        if _str(post.get(key))
    ]
    markup = "".join(parts)
    if _str(post.get("title")):
        markup = f"<h1>{html.escape(post['title'])}</h1>" + markup
    content = from_html(markup)
    photos: list[MediaRef] = []
    for photo in _list(post.get("photos")):
        photo = _dict(photo)
        best = _largest([photo.get("original_size"), *_list(photo.get("alt_sizes"))])
        if best is not None:
            photos.append(
                MediaRef(
                    url=best["url"],
                    role="image",
                    alt_text=_str(photo.get("alt_text")) or _str(photo.get("caption")),
                    width=_int(best.get("width")),
                    height=_int(best.get("height")),
                )
            )
    content.media = photos + content.media
    for key in ("video_url", "audio_url"):
        if _str(post.get(key)):
            role = "video" if key == "video_url" else "audio"
            content.media.append(MediaRef(url=post[key], role=role))
    content.add_link(_str(post.get("url")))  # a legacy link post
    return content
