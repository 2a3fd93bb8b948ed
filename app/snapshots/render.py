"""Render one captured version as a PDF/A-3b file: pure, offline, deterministic.

`render_snapshot(view)` takes plain data (a `SnapshotView`) and returns PDF bytes. It touches
no database and no network: every image comes from the bytes the caller passed, platform HTML
is cleaned to an allow-list first, and the same view renders to the same bytes on any machine
with the fonts of `scripts/install-fonts` (docs/snapshots.md).
"""

from __future__ import annotations

import datetime as dt
import gc
import hashlib
import io
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import nh3
import weasyprint
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from PIL import Image
from weasyprint.text.fonts import FontConfiguration

from app import __version__ as app_version
from app.platforms.collected import Author, CollectedPost, EmbeddedPost, MediaRef, Reply
from app.platforms.registry import RECORD_NAMES as PLATFORM_NAMES
from app.snapshots.fonts import missing_characters, missing_sentence
from app.snapshots.page_assets import ArchiveFetcher, file_extension, jpeg_rendition
from app.snapshots.pdf_objects import OUTPUT_INTENT, finisher, srgb_profile, w3c_time
from app.snapshots.schemas import MediaFile, SnapshotView
from app.snapshots.version import RENDERER_VERSION, TEMPLATES_DIR
from app.snapshots.web_capture import web_capture_block
from app.weblinks import WEB_SCHEMES, web_url

PDF_VARIANT = "pdf/a-3b"


# Platform markup keeps its structure and links, nothing that loads or runs anything.
ALLOWED_TAGS = {
    "p", "br", "a", "span", "strong", "em", "b", "i", "u", "s", "del", "ins", "sub", "sup",
    "ul", "ol", "li", "blockquote", "code", "pre", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
# Links in a snapshot are web addresses only: a `javascript:`, `data:` or `file:` link from
# platform data (a profile, a link card, a reply) must never become a live link in evidence.
ALLOWED_URL_SCHEMES = set(WEB_SCHEMES)
DROPPED_WITH_CONTENT = {"script", "style", "template", "noscript", "title", "iframe", "object"}

_URL_RE = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def _only_web_links(_element: str, attribute: str, value: str) -> str | None:
    return web_url(value) if attribute == "href" else value


def sanitize_html(html: str) -> str:
    """Platform HTML (Mastodon content, feed entries) reduced to an allow-list of markup."""
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROPPED_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_only_web_links,
        url_schemes=ALLOWED_URL_SCHEMES,
        link_rel=None,
        strip_comments=True,
    )


def text_to_html(text: str) -> Markup:
    """Plain text with its links made clickable and its line breaks kept."""
    parts: list[str] = []
    position = 0
    for match in _URL_RE.finditer(text):
        parts.append(str(escape(text[position : match.start()])))
        url = match.group(0)
        parts.append(f'<a href="{escape(url)}">{escape(url)}</a>')
        position = match.end()
    parts.append(str(escape(text[position:])))
    return Markup("".join(parts).replace("\n", "<br>\n"))


def utc_text(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


# --- building the page --------------------------------------------------------------------


@dataclass
class _Image:
    src: str
    alt: str
    width: int
    height: int


@dataclass
class _Attachment:
    key: str
    name: str
    mime_type: str
    sha256: str
    size: int
    role: str
    owner: str
    description: str
    data: bytes
    drawn: bool = False


@dataclass
class _Block:
    author_name: str
    author_handle: str
    profile_url: str | None
    avatar: _Image | None
    body: Markup
    created_at: str
    edited_at: str
    url: str | None
    images: list[_Image] = field(default_factory=list)
    files: list[_Attachment] = field(default_factory=list)
    lang: str | None = None


@dataclass
class _ReplyBlock:
    block: _Block
    depth: int
    reply_id: str
    parent_missing: bool = False


class _Media:
    """The caller's media files, looked up by hash or by URL, with their page renditions."""

    def __init__(self, files: Iterable[MediaFile], resources: dict[str, tuple[bytes, str]]):
        self.resources = resources
        self.by_sha: dict[str, MediaFile] = {}
        self.by_url: dict[str, MediaFile] = {}
        self.attachments: dict[str, _Attachment] = {}
        self._images: dict[str, _Image | None] = {}
        for item in files:
            self.by_sha.setdefault(item.sha256, item)
            if item.source_url:
                self.by_url.setdefault(item.source_url, item)
            if item.sha256 not in self.attachments:
                number = len(self.attachments) + 1
                owner = item.owner.replace(":", "-").replace("/", "-")
                name = f"media-{number:02d}-{owner}-{item.sha256[:12]}.{file_extension(item.mime_type)}"
                self.attachments[item.sha256] = _Attachment(
                    key=f"archive:attachment/{item.sha256}",
                    name=name,
                    mime_type=item.mime_type,
                    sha256=item.sha256,
                    size=len(item.data),
                    role=item.role,
                    owner=item.owner,
                    description=_media_description(item),
                    data=item.data,
                )

    def find(self, ref: MediaRef | None = None, *, url: str | None = None) -> MediaFile | None:
        if ref is not None:
            if ref.sha256 and ref.sha256 in self.by_sha:
                return self.by_sha[ref.sha256]
            url = ref.url
        if url:
            return self.by_url.get(url)
        return None

    def image(self, item: MediaFile | None, alt: str | None = None) -> _Image | None:
        if item is None:
            return None
        if item.sha256 not in self._images:
            self._images[item.sha256] = self._make_image(item)
        drawn = self._images[item.sha256]
        if drawn is None:
            return None
        self.attachments[item.sha256].drawn = True
        return _Image(drawn.src, alt if alt is not None else drawn.alt, drawn.width, drawn.height)

    def _make_image(self, item: MediaFile) -> _Image | None:
        mime = item.mime_type.lower()
        if not mime.startswith("image/") or mime == "image/svg+xml":
            return None
        rendition = jpeg_rendition(item.data)
        if rendition is None:
            return None
        with Image.open(io.BytesIO(rendition)) as image:
            width, height = image.size
        key = f"archive:rendition/{item.sha256}.jpg"
        self.resources[key] = (rendition, "image/jpeg")
        return _Image(key, item.alt_text or "", width, height)


def _media_description(item: MediaFile) -> str:
    where = {"post": "the post", "quote": "the quoted post", "repost": "the reposted post"}.get(
        item.owner, item.owner.replace("reply:", "reply ")
    )
    text = f"Original {item.role} of {where}, {item.mime_type}, SHA-256 {item.sha256}"
    if item.source_url:
        text += f", from {item.source_url}"
    if item.alt_text:
        text += f". Alt text: {item.alt_text}"
    return text


def _body(text: str, html: str | None) -> Markup:
    if html:
        return Markup(sanitize_html(html))
    return text_to_html(text)


def _block(
    media: _Media,
    *,
    author: Author,
    text: str,
    html: str | None,
    created_at: dt.datetime | None,
    edited_at: dt.datetime | None = None,
    url: str | None,
    refs: list[MediaRef],
    lang: str | None = None,
) -> _Block:
    avatar_file = media.find(url=author.avatar_url) if author.avatar_url else None
    block = _Block(
        author_name=author.display_name or author.handle,
        author_handle=author.handle,
        profile_url=author.profile_url,
        avatar=media.image(avatar_file, alt=f"avatar of {author.handle}"),
        body=_body(text, html),
        created_at=utc_text(created_at),
        edited_at=utc_text(edited_at),
        url=url,
        lang=lang,
    )
    for ref in refs:
        found = media.find(ref)
        if found is None:
            continue
        drawn = media.image(found, alt=ref.alt_text or found.alt_text or "")
        if drawn is not None and ref.role in ("image", "gifv", "thumbnail", "other"):
            block.images.append(drawn)
        else:
            block.files.append(media.attachments[found.sha256])
    return block


def _embedded(media: _Media, embedded: EmbeddedPost | None) -> _Block | None:
    if embedded is None:
        return None
    return _block(
        media,
        author=embedded.author,
        text=embedded.text,
        html=embedded.html,
        created_at=embedded.created_at,
        url=embedded.url,
        refs=embedded.media,
    )


def _threaded(replies: list[Reply]) -> list[tuple[Reply, int, bool]]:
    """Replies in reading order: each followed by its answers, indented by depth."""
    known = {reply.id for reply in replies}
    children: dict[str | None, list[Reply]] = {}
    for reply in replies:
        parent = reply.in_reply_to_id if reply.in_reply_to_id in known else None
        children.setdefault(parent, []).append(reply)

    def order(reply: Reply) -> tuple[str, str]:
        return (reply.created_at.isoformat() if reply.created_at else "", reply.id)

    out: list[tuple[Reply, int, bool]] = []
    seen: set[str] = set()

    def walk(parent: str | None, depth: int) -> None:
        for reply in sorted(children.get(parent, []), key=order):
            if reply.id in seen:  # a cycle in hostile data must not loop forever
                continue
            seen.add(reply.id)
            orphan = parent is None and reply.in_reply_to_id not in (None, *known)
            out.append((reply, depth, orphan))
            walk(reply.id, min(depth + 1, 6))

    walk(None, 0)
    return out


# Line breaks and indentation between two tags of the template's source: each would be a
# text node that WeasyPrint builds a box and a style for, then drops. Whitespace within a
# line, in the text and in what the page is filled with (platform HTML, a <pre>) is kept.
_BETWEEN_TAGS = re.compile(r">[ \t]*\n\s*(?=<|\{[%#])")


class _CompactLoader(FileSystemLoader):
    """The templates without the layout whitespace between their tags."""

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        return _BETWEEN_TAGS.sub(">", source), filename, uptodate


_environment = Environment(
    loader=_CompactLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters["web_url"] = web_url


@dataclass
class Prepared:
    """The page's HTML and everything the renderer needs beside it."""

    html: str
    resources: dict[str, tuple[bytes, str]]
    attachments: list[_Attachment]
    title: str
    author: str
    captured_at: dt.datetime
    # Characters of the page no installed font covers ("U+1F68D"), in order of appearance.
    missing_glyphs: list[str] = field(default_factory=list)


def prepare(view: SnapshotView) -> Prepared:
    """The page's HTML (with image renditions made) for a view; no PDF yet."""
    if hashlib.sha256(view.source_json).hexdigest() != view.source_sha256:
        raise ValueError("the source JSON does not hash to the SHA-256 recorded for it")
    resources: dict[str, tuple[bytes, str]] = {}
    media = _Media(view.media, resources)
    post: CollectedPost = view.post
    main = _block(
        media,
        author=post.author,
        text=post.text,
        html=post.html,
        created_at=post.created_at,
        edited_at=post.edited_at,
        url=post.url,
        refs=post.media,
        lang=post.language,
    )
    card = post.link_card
    card_image = None
    if card is not None and card.thumb is not None:
        card_image = media.image(media.find(card.thumb), alt=card.thumb.alt_text or "")
    replies = [
        _ReplyBlock(
            block=_block(
                media,
                author=reply.author,
                text=reply.text,
                html=reply.html,
                created_at=reply.created_at,
                url=reply.url,
                refs=reply.media,
            ),
            depth=depth,
            reply_id=reply.id,
            parent_missing=orphan,
        )
        for reply, depth, orphan in _threaded(post.replies)
    ]
    platform = PLATFORM_NAMES.get(view.platform, view.platform)
    author = post.author.display_name or post.author.handle
    title = f"{platform} post by {post.author.handle}, version {view.version_number} of {view.version_count}"
    source_attachment = _Attachment(
        key="archive:attachment/source.json",
        name="source.json",
        mime_type="application/json",
        sha256=view.source_sha256,
        size=len(view.source_json),
        role="source",
        owner="post",
        description=(
            f"The platform's own responses for this capture, canonical JSON, "
            f"SHA-256 {view.source_sha256}"
        ),
        data=view.source_json,
    )
    web = web_capture_block(view, media.attachments, resources)
    attachments = [source_attachment, *media.attachments.values()]
    template = _environment.get_template("snapshot.html")
    context = {
        "view": view,
        "post": post,
        "platform": platform,
        "title": title,
        "author": author,
        "description": f"Archived snapshot of {view.post_url}, captured {utc_text(view.captured_at)}",
        "keywords": [
            k for k in (platform, view.retention.series_code if view.retention else None) if k
        ],
        "generator": f"PostVault {app_version} (snapshot renderer {RENDERER_VERSION})",
        "created": w3c_time(view.captured_at),
        "main": main,
        "quote": _embedded(media, post.quote_of),
        "repost": _embedded(media, post.repost_of),
        "card": card,
        "card_image": card_image,
        "replies": replies,
        "attachments": attachments,
        # Large audio and video: named by hash, kept in the archive beside the PDF.
        "kept_files": [f for f in view.referenced_files if f.role != "wacz"],
        "not_archived": [str(n) for n in post.extra.get("media_not_archived") or []],
        "utc": utc_text,
        "renderer_version": RENDERER_VERSION,
    }
    context.update(web=web)  # the web platform's capture block (None for other platforms)
    html = template.render(**context, missing_glyphs=[], missing_text="")
    # Found before rendering, so the capture record can say which characters show as boxes
    # (the sentence itself is ASCII: rendering it again changes nothing it reports).
    missing = missing_characters(html)
    if missing:
        html = template.render(
            **context, missing_glyphs=missing, missing_text=missing_sentence(missing)
        )
    return Prepared(html, resources, attachments, title, author, view.captured_at, missing)


_stylesheets: list[weasyprint.CSS] = []
_ua_stylesheets: list[weasyprint.CSS] = []


def ua_stylesheet() -> weasyprint.CSS:
    """The user-agent stylesheet of snapshot pages (templates/snapshot_ua.css), parsed once."""
    if not _ua_stylesheets:
        from weasyprint.html import UA_COUNTER_STYLE

        css = (TEMPLATES_DIR / "snapshot_ua.css").read_text(encoding="utf-8")
        _ua_stylesheets.append(weasyprint.CSS(string=css, counter_style=UA_COUNTER_STYLE))
    return _ua_stylesheets[0]


class SnapshotHTML(weasyprint.HTML):  # type: ignore[misc]
    """A snapshot page for WeasyPrint, laid out with the snapshot user-agent stylesheet
    (WeasyPrint's full one tests every element against rules for forms, frames and notes
    that a snapshot never holds)."""

    def _ua_stylesheets(self, forms: bool = False) -> list[weasyprint.CSS]:
        return [ua_stylesheet()]


_font_configs: list[FontConfiguration] = []


def font_config() -> FontConfiguration:
    """The font configuration (fontconfig's fonts and Pango's font map), made once per
    process: WeasyPrint otherwise loads it anew for every document."""
    if not _font_configs:
        _font_configs.append(FontConfiguration())
    return _font_configs[0]


def stylesheets() -> list[weasyprint.CSS]:
    """The snapshot stylesheet, parsed once per process (with the process's font config)."""
    if not _stylesheets:
        css = (TEMPLATES_DIR / "snapshot.css").read_text(encoding="utf-8")
        _stylesheets.append(
            weasyprint.CSS(string=css, url_fetcher=ArchiveFetcher(), font_config=font_config())
        )
    return _stylesheets


def pdf_options(prepared: Prepared, fetcher: ArchiveFetcher) -> dict[str, Any]:
    """The write_pdf() options of a snapshot (the benchmark renders the same HTML with them)."""
    created = prepared.captured_at.astimezone(dt.UTC)
    attachments = [
        weasyprint.Attachment(
            url=item.key,
            url_fetcher=fetcher,
            name=item.name,
            description=item.description,
            created=created,
            modified=created,
            relationship="Source" if item.role == "source" else "Data",
        )
        for item in prepared.attachments
    ]
    return {
        "pdf_variant": PDF_VARIANT,
        "pdf_identifier": True,  # derived from the content: same input, same identifier
        "attachments": attachments,
        "stylesheets": stylesheets(),
        "font_config": font_config(),
        "output_intent": OUTPUT_INTENT,
        "color_profiles": {OUTPUT_INTENT: srgb_profile()},
    }


class SnapshotPDF(bytes):
    """A snapshot's PDF bytes, carrying the characters its page could not draw (what its XMP
    lists), so the process that records it need not parse the PDF again to read them. It
    pickles with them, from a render worker too."""

    missing_glyphs: list[str]

    @classmethod
    def of(cls, pdf: bytes, missing_glyphs: list[str]) -> SnapshotPDF:
        made = cls(pdf)
        made.missing_glyphs = list(missing_glyphs)
        return made


_collector_lock = threading.Lock()
# Renders running now in this process, and whether the cycle collector was on before the
# first of them paused it.
_collector_pauses = {"renders": 0, "was_enabled": False}


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while a snapshot renders, then left as it was.

    A render allocates hundreds of thousands of short-lived objects (boxes, styles, text
    layouts) that set the collector off again and again mid-render, each time walking the
    process's objects (the fonts' and stylesheets' among them) to find almost nothing: a
    tenth of a snapshot's CPU. The cycles a render leaves are collected in one pass after it.
    Counted, so with renders in two threads the collector resumes when the last one ends.
    """
    with _collector_lock:
        if _collector_pauses["renders"] == 0:
            _collector_pauses["was_enabled"] = gc.isenabled()
            gc.disable()
        _collector_pauses["renders"] += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector_pauses["renders"] -= 1
            if _collector_pauses["renders"] == 0 and _collector_pauses["was_enabled"]:
                gc.enable()


def render_snapshot(view: SnapshotView) -> SnapshotPDF:
    """The PDF/A-3b snapshot of one captured version."""
    with _cycle_collector_paused():
        prepared = prepare(view)
        fetcher = ArchiveFetcher(
            {
                **prepared.resources,
                **{a.key: (a.data, a.mime_type) for a in prepared.attachments},
            }
        )
        document = SnapshotHTML(string=prepared.html, url_fetcher=fetcher)
        pdf: bytes = document.write_pdf(
            finisher=finisher(view, prepared.missing_glyphs), **pdf_options(prepared, fetcher)
        )
    return SnapshotPDF.of(pdf, prepared.missing_glyphs)
