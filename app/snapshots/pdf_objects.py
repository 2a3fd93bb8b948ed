"""What PostVault adjusts in WeasyPrint's PDF objects before they are written: its own XMP
properties (with the PDF/A extension schema), the embedded files' name tree in order, each
associated file listed once, font timestamps frozen, already-compressed media not deflated
again, and the sRGB output intent's profile embedded as the exact bytes of its file. All of it
keeps a snapshot PDF/A-3b valid and the same view rendering to the same bytes."""

from __future__ import annotations

import datetime as dt
import io
import struct
from collections.abc import Callable, Sequence
from importlib import resources
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from weasyprint.css import ColorProfile

from app.snapshots.schemas import SnapshotView
from app.snapshots.version import RENDERER_VERSION

XMP_NAMESPACE = "https://postvault.org/ns/snapshot/1.0/"
XMP_PREFIX = "pvs"


def w3c_time(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
        ("capturedAt", "Date", w3c_time(view.captured_at), "When PostVault captured this version"),
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
        rows.insert(
            3, ("postCreatedAt", "Date", w3c_time(post.created_at), "When the post was made")
        )
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


OUTPUT_INTENT = "postvault-srgb"
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


def srgb_profile() -> ColorProfile:
    """WeasyPrint's own sRGB profile, read once per process.

    Passed in by name, because WeasyPrint's built-in "srgb" intent opens the ICC file on every
    render and never closes it.
    """
    if not _profiles:
        icc = (resources.files("weasyprint.pdf") / "sRGB2014.icc").read_bytes()
        _profiles.append(_FixedProfile(icc, "sRGB2014.icc"))
    return _profiles[0]
