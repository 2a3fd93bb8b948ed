"""Render one captured version as a PDF/A-3b file: pure, offline, deterministic.

`render_snapshot(view)` takes plain data (a `SnapshotView`) and returns PDF bytes. It touches
no database and no network: every image comes from the bytes the caller passed, platform HTML
is cleaned to an allow-list first, and the same view renders to the same bytes on any machine
with the fonts of `scripts/install-fonts` (docs/snapshots.md).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape as xml_escape

import nh3
import weasyprint
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from PIL import Image
from weasyprint.css import ColorProfile
from weasyprint.text.fonts import FontConfiguration

from app import __version__ as app_version
from app.platforms.collected import Author, CollectedPost, EmbeddedPost, MediaRef, Reply
from app.platforms.registry import RECORD_NAMES as PLATFORM_NAMES
from app.snapshots.fonts import missing_characters, missing_sentence
from app.snapshots.page_assets import ArchiveFetcher, file_extension, jpeg_rendition
from app.snapshots.schemas import MediaFile, SnapshotView
from app.snapshots.web_capture import web_capture_block
from app.weblinks import WEB_SCHEMES, web_url

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
# The renderer's code: this module and what it draws pages with.
RENDERER_MODULES = (Path(__file__), Path(__file__).resolve().parent / "page_assets.py")
PDF_VARIANT = "pdf/a-3b"
XMP_NAMESPACE = "https://postvault.org/ns/snapshot/1.0/"
XMP_PREFIX = "pvs"


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


def _source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(TEMPLATES_DIR.iterdir()):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    for module in RENDERER_MODULES:
        digest.update(module.read_bytes())
    return digest.hexdigest()[:10]


# Any change to the templates, the CSS, the renderer's modules or WeasyPrint is a new renderer version,
# so `postvault snapshots rerender` knows which snapshots are outdated.
RENDERER_VERSION = f"1+wp{weasyprint.__version__}+{_source_digest()}"


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


def _w3c(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        "created": _w3c(view.captured_at),
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


# --- the PDF ------------------------------------------------------------------------------

_ALREADY_COMPRESSED = ("image/jpeg", "image/png", "image/gif", "image/webp", "image/avif")


def _xmp_properties(
    view: SnapshotView, missing_glyphs: Sequence[str] = ()
) -> list[tuple[str, str, str, str]]:
    """(name, XMP value type, value, description) of PostVault's own XMP properties."""
    post = view.post
    rows = [
        ("platform", "Text", view.platform, "Platform the post was published on"),
        ("postUrl", "URI", view.post_url, "Address of the post on its platform"),
        ("postId", "Text", view.post_id, "The platform's identifier of the post"),
        ("capturedAt", "Date", _w3c(view.captured_at), "When PostVault captured this version"),
        ("versionNumber", "Integer", str(view.version_number), "Number of this version"),
        ("versionCount", "Integer", str(view.version_count), "Versions captured so far"),
        ("sourceSha256", "Text", view.source_sha256, "SHA-256 of the embedded source JSON"),
        ("collector", "Text", f"{view.collector} {view.collector_version}", "Collector"),
        ("rendererVersion", "Text", RENDERER_VERSION, "PostVault snapshot renderer version"),
        (
            "missingGlyphCount",
            "Integer",
            str(len(missing_glyphs)),
            "Characters no installed font could draw",
        ),
        (
            "missingGlyphs",
            "Text",
            " ".join(missing_glyphs),
            "Code points (U+XXXX) no installed font could draw, space separated",
        ),
    ]
    if post.created_at is not None:
        rows.insert(3, ("postCreatedAt", "Date", _w3c(post.created_at), "When the post was made"))
    return rows


def xmp_addition(view: SnapshotView, missing_glyphs: Sequence[str] = ()) -> bytes:
    """rdf:Description elements for PostVault's properties, with the PDF/A extension schema
    that PDF/A requires for any property outside the predefined XMP schemas."""
    rows = _xmp_properties(view, missing_glyphs)
    values = "".join(f"<{XMP_PREFIX}:{n}>{xml_escape(v)}</{XMP_PREFIX}:{n}>" for n, _, v, _ in rows)
    schema_rows = "".join(
        '<rdf:li rdf:parseType="Resource">'
        f"<pdfaProperty:name>{n}</pdfaProperty:name>"
        f"<pdfaProperty:valueType>{t}</pdfaProperty:valueType>"
        "<pdfaProperty:category>external</pdfaProperty:category>"
        f"<pdfaProperty:description>{xml_escape(d)}</pdfaProperty:description>"
        "</rdf:li>"
        for n, t, _, d in rows
    )
    text = (
        '<rdf:Description rdf:about=""'
        ' xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"'
        ' xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"'
        ' xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">'
        "<pdfaExtension:schemas><rdf:Bag>"
        '<rdf:li rdf:parseType="Resource">'
        "<pdfaSchema:schema>PostVault snapshot</pdfaSchema:schema>"
        f"<pdfaSchema:namespaceURI>{XMP_NAMESPACE}</pdfaSchema:namespaceURI>"
        f"<pdfaSchema:prefix>{XMP_PREFIX}</pdfaSchema:prefix>"
        f"<pdfaSchema:property><rdf:Seq>{schema_rows}</rdf:Seq></pdfaSchema:property>"
        "</rdf:li></rdf:Bag></pdfaExtension:schemas></rdf:Description>"
        f'<rdf:Description rdf:about="" xmlns:{XMP_PREFIX}="{XMP_NAMESPACE}">{values}'
        "</rdf:Description>"
        '<rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:source>{xml_escape(view.post_url)}</dc:source>"
        "</rdf:Description>"
    )
    return text.encode("utf-8")


def _referenced(pdf: Any, reference: Any) -> Any:
    """The object a pydyf reference ("12 0 R", as str or bytes) points to."""
    text = reference.decode() if isinstance(reference, bytes) else str(reference)
    return pdf.objects[int(text.split()[0])]


def _freeze_font_timestamp(font: bytes) -> bytes:
    """A TrueType font with head.modified set to head.created and its checksums fixed.

    WeasyPrint re-saves colour emoji fonts with fontTools, which stamps the current time into
    the font; the same input would otherwise render to different bytes from one second to the
    next.
    """
    if font[:4] not in (b"\x00\x01\x00\x00", b"true") or len(font) < 12:
        return font
    (tables,) = struct.unpack(">H", font[4:6])
    for index in range(tables):
        entry = 12 + 16 * index
        tag, _, offset, length = struct.unpack(">4sIII", font[entry : entry + 16])
        if tag != b"head" or length < 36 or offset + length > len(font):
            continue
        data = bytearray(font)
        data[offset + 28 : offset + 36] = data[offset + 20 : offset + 28]
        data[offset + 8 : offset + 12] = b"\x00\x00\x00\x00"
        head = bytes(data[offset : offset + length])
        struct.pack_into(">I", data, entry + 4, _table_checksum(head))
        adjustment = (0xB1B0AFBA - _table_checksum(bytes(data))) & 0xFFFFFFFF
        struct.pack_into(">I", data, offset + 8, adjustment)
        return bytes(data)
    return font


def _table_checksum(data: bytes) -> int:
    padded = data + b"\x00" * (-len(data) % 4)
    words: tuple[int, ...] = struct.unpack(f">{len(padded) // 4}I", padded)
    return sum(words) & 0xFFFFFFFF


def _key(name: Any) -> bytes:
    value = name.string
    return value if isinstance(value, bytes) else str(value).encode("utf-8")


def finisher(view: SnapshotView, missing_glyphs: Sequence[str] = ()) -> Callable[[Any, Any], None]:
    """Adjust WeasyPrint's PDF objects before they are written (no second parse of the PDF)."""

    def finish(_document: Any, pdf: Any) -> None:
        metadata = _referenced(pdf, pdf.catalog["Metadata"])
        packet = b"".join(
            part if isinstance(part, bytes) else str(part).encode() for part in metadata.stream
        )
        if b"</rdf:RDF>" not in packet:
            raise RuntimeError("WeasyPrint wrote XMP without an rdf:RDF element")
        metadata.stream = [
            packet.replace(b"</rdf:RDF>", xmp_addition(view, missing_glyphs) + b"</rdf:RDF>", 1)
        ]
        # Plain-text XMP can be found and read without a PDF parser.
        metadata.compress = False
        names = pdf.catalog.get("Names")
        if names is not None and "EmbeddedFiles" in names:
            # A name tree's keys must be sorted; WeasyPrint keeps the order it was given.
            tree = _referenced(pdf, names["EmbeddedFiles"])
            flat = list(tree["Names"])
            pairs = sorted(zip(flat[0::2], flat[1::2], strict=True), key=lambda p: _key(p[0]))
            tree["Names"][:] = [item for pair in pairs for item in pair]
        if "AF" in pdf.catalog:
            # WeasyPrint lists each associated file twice; once is what ISO 32000-2 means.
            unique: list[Any] = []
            for reference in pdf.catalog["AF"]:
                if reference not in unique:
                    unique.append(reference)
            pdf.catalog["AF"][:] = unique
        for pdf_object in pdf.objects:
            extra = getattr(pdf_object, "extra", None)
            if isinstance(extra, dict) and "Length1" in extra and len(pdf_object.stream) == 1:
                content = pdf_object.stream[0]
                if isinstance(content, bytes):
                    pdf_object.stream = [_freeze_font_timestamp(content)]
            if isinstance(pdf_object, dict) and pdf_object.get("Type") == "/Filespec":
                stream = _referenced(pdf, pdf_object["EF"]["F"])
                subtype = str(stream.extra.get("Subtype", ""))
                if any(subtype == "/" + m.replace("/", "#2f") for m in _ALREADY_COMPRESSED):
                    # Deflating a JPEG or PNG again costs time and saves nothing.
                    stream.compress = False

    return finish


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


_OUTPUT_INTENT = "postvault-srgb"
_profiles: list[ColorProfile] = []


class _FixedProfile(ColorProfile):  # type: ignore[misc]
    """An ICC profile embedded as the exact bytes of its file.

    WeasyPrint re-serialises profiles through LittleCMS, whose output changes after the first
    use in a process, which would make the same version render to different bytes.
    """

    def __init__(self, icc: bytes, name: str) -> None:
        super().__init__(io.BytesIO(icc), name, "relative-colorimetric", (["r"], ["g"], ["b"]))
        self._icc = icc

    @property
    def content(self) -> bytes:
        return self._icc


def _srgb_profile() -> ColorProfile:
    """WeasyPrint's own sRGB profile, read once per process.

    Passed in by name, because WeasyPrint's built-in "srgb" intent opens the ICC file on every
    render and never closes it.
    """
    if not _profiles:
        icc = (resources.files("weasyprint.pdf") / "sRGB2014.icc").read_bytes()
        _profiles.append(_FixedProfile(icc, "sRGB2014.icc"))
    return _profiles[0]


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
        "output_intent": _OUTPUT_INTENT,
        "color_profiles": {_OUTPUT_INTENT: _srgb_profile()},
    }


def render_snapshot(view: SnapshotView) -> bytes:
    """The PDF/A-3b snapshot of one captured version."""
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
    return pdf
