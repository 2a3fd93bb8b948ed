"""Every place a PDF can carry text, read out for the redaction leak check.

A redacted copy is refused if a redacted string can still be found anywhere a reader could
find it: the drawn text of the pages, annotations, form fields, bookmarks, the document
information and XMP metadata, and every embedded file. Page text is extracted with PDFium
(pypdfium2), which reads fonts written with custom CMap encodings: when a glyph is missing,
WeasyPrint writes the body font that way, and pypdf then returns the text with NULs between
the characters. pypdf's text is read as well, because PDFium skips the Type 3 fonts colour
emoji are drawn with. Strings are compared normalised (`normalise`): NFKC (Arabic
presentation forms and full-width letters fold to their plain form), without whitespace, NULs
or other control and format characters (soft hyphens, direction marks).
"""

from __future__ import annotations

import functools
import html
import io
import json
import logging
import re
import sys
import unicodedata
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pikepdf
import pypdfium2
from pypdf import PdfReader

log = logging.getLogger("postvault.open_records")

# Limits against hostile input: the check must end, and an unreadable part is reported.
_MAX_OUTLINE_ITEMS = 100_000
_MAX_FIELD_DEPTH = 32


def _dropped(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) in ("Cc", "Cf")


@functools.cache
def _dropped_pattern() -> re.Pattern[str]:
    """Every code point `normalise` drops, as one character class (made once per process:
    removing them with a regular expression takes no per-character Python objects, so a
    package's large manifests are compared in a fraction of the time and memory)."""
    ranges: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if _dropped(chr(code)):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return re.compile(
        "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges) + "]+"
    )


def normalise(text: str) -> str:
    """NFKC, without whitespace, NULs or other control and format characters."""
    return _dropped_pattern().sub("", unicodedata.normalize("NFKC", text))


@dataclass(frozen=True)
class TextPart:
    """One piece of text a reader could find, and where it is ("page 2", "bookmark", ...)."""

    where: str
    text: str


def _string(value: Any) -> str | None:
    if isinstance(value, pikepdf.String):
        return str(value)
    if isinstance(value, pikepdf.Name):
        return str(value)[1:]
    if isinstance(value, str):
        return value
    return None


def _strings_in(value: Any, depth: int = 0) -> Iterator[str]:
    """Every string inside a (small) PDF value: strings, names, arrays of them, text streams."""
    if depth > 8:
        return
    text = _string(value)
    if text is not None:
        yield text
    elif isinstance(value, pikepdf.Array):
        for item in value:
            yield from _strings_in(item, depth + 1)
    elif isinstance(value, pikepdf.Stream):
        yield decoded_text(_stream_bytes(value))


def _stream_bytes(stream: pikepdf.Stream) -> bytes:
    try:
        return bytes(stream.read_bytes())
    except pikepdf.PdfError:
        return bytes(stream.read_raw_bytes())


def decoded_text(data: bytes) -> str:
    """Text of a file's bytes: UTF-16 with a byte-order mark, else UTF-8 (undecodable bytes
    dropped), with any JSON string escapes resolved so \\u516c reads as 公."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        text = data.decode("utf-16", errors="ignore")
    else:
        text = data.decode("utf-8", errors="ignore")
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            return "\n".join(_json_strings(json.loads(text)))
        except ValueError:
            pass
    return text


def _json_strings(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            for key, inner in item.items():
                yield str(key)
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
        elif item is not None:
            yield str(item)


def page_texts(pdf: bytes) -> Iterator[TextPart]:
    """The drawn text of all pages (one part per reader, so a string split across a page
    break is still found), by PDFium and by pypdf."""
    document = pypdfium2.PdfDocument(pdf)
    pages: list[str] = []
    try:
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            pages.append(textpage.get_text_bounded())
            textpage.close()
            page.close()
    finally:
        document.close()
    yield TextPart("page text", "\n".join(pages))
    try:
        text = "\n".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(pdf)).pages)
    except Exception as exc:  # pypdf's errors are many; PDFium has read the pages already
        log.warning("pypdf could not read the page text: %s", exc)
    else:
        yield TextPart("page text", text)


def _annotation_parts(document: pikepdf.Pdf) -> Iterator[TextPart]:
    for index, page in enumerate(document.pages):
        for annotation in page.obj.get("/Annots", pikepdf.Array()):
            if not isinstance(annotation, pikepdf.Dictionary):
                continue
            where = f"page {index + 1} annotation"
            for key in ("/Contents", "/T", "/TU", "/RC", "/Subj", "/NM", "/V"):
                for text in _strings_in(annotation.get(key)):
                    yield TextPart(where, text)
            action = annotation.get("/A")
            if isinstance(action, pikepdf.Dictionary):
                for text in _strings_in(action.get("/URI")):
                    yield TextPart(f"{where} link", text)


def _field_parts(document: pikepdf.Pdf) -> Iterator[TextPart]:
    form = document.Root.get("/AcroForm")
    if not isinstance(form, pikepdf.Dictionary):
        return
    stack = [(field, 0) for field in form.get("/Fields", pikepdf.Array())]
    seen: set[tuple[int, int]] = set()
    while stack:
        field, depth = stack.pop()
        if not isinstance(field, pikepdf.Dictionary) or depth > _MAX_FIELD_DEPTH:
            continue
        if field.is_indirect:
            if field.objgen in seen:
                continue
            seen.add(field.objgen)
        for key in ("/T", "/TU", "/TM", "/V", "/DV", "/Opt"):
            for text in _strings_in(field.get(key)):
                yield TextPart("form field", text)
        stack.extend((kid, depth + 1) for kid in field.get("/Kids", pikepdf.Array()))


def _bookmark_parts(document: pikepdf.Pdf) -> Iterator[TextPart]:
    outlines = document.Root.get("/Outlines")
    if not isinstance(outlines, pikepdf.Dictionary):
        return
    stack = [outlines.get("/First")]
    seen: set[tuple[int, int]] = set()
    while stack and len(seen) < _MAX_OUTLINE_ITEMS:
        item = stack.pop()
        if not isinstance(item, pikepdf.Dictionary):
            continue
        if item.is_indirect:
            if item.objgen in seen:  # a cycle in hostile input must not loop forever
                continue
            seen.add(item.objgen)
        for text in _strings_in(item.get("/Title")):
            yield TextPart("bookmark", text)
        stack.extend([item.get("/Next"), item.get("/First")])


def _metadata_parts(document: pikepdf.Pdf) -> Iterator[TextPart]:
    for key, value in document.docinfo.items():
        for text in _strings_in(value):
            yield TextPart(f"document information {key}", text)
    metadata = document.Root.get("/Metadata")
    if isinstance(metadata, pikepdf.Stream):
        packet = _stream_bytes(metadata).decode("utf-8", errors="ignore")
        yield TextPart("XMP metadata", html.unescape(packet))


def _embedded_file_parts(document: pikepdf.Pdf) -> Iterator[TextPart]:
    """Every embedded file, whether reached through the name tree, /AF or an annotation:
    every /Filespec object in the file, with its names, description and contents."""
    for obj in document.objects:
        if not isinstance(obj, pikepdf.Dictionary) or obj.get("/Type") != "/Filespec":
            continue
        name = _string(obj.get("/UF")) or _string(obj.get("/F")) or "unnamed"
        where = f"embedded file {name}"
        for key in ("/F", "/UF", "/Desc"):
            for text in _strings_in(obj.get(key)):
                yield TextPart(where, text)
        files = obj.get("/EF")
        if not isinstance(files, pikepdf.Dictionary):
            continue
        for key in ("/F", "/UF"):
            stream = files.get(key)
            if isinstance(stream, pikepdf.Stream):
                yield TextPart(where, decoded_text(_stream_bytes(stream)))


def document_parts(pdf: bytes) -> Iterator[TextPart]:
    """Annotations, form fields, bookmarks, metadata and embedded files."""
    with pikepdf.open(io.BytesIO(pdf)) as document:
        yield from _annotation_parts(document)
        yield from _field_parts(document)
        yield from _bookmark_parts(document)
        yield from _metadata_parts(document)
        yield from _embedded_file_parts(document)


def raw_streams(pdf: bytes) -> Iterator[bytes]:
    """Every stream decoded (and inflated once more where it is zlib data): a last net for
    text that no reader above shows, such as a file attached in an unusual way."""
    with pikepdf.open(io.BytesIO(pdf)) as document:
        for obj in document.objects:
            if isinstance(obj, pikepdf.Stream):
                data = _stream_bytes(obj)
                yield data
                try:
                    yield zlib.decompress(data)
                except zlib.error:
                    pass
