"""Every place a PDF can carry text, read out for the redaction leak check.

A redacted copy is refused if a redacted string can still be found anywhere a reader could
find it: the drawn text of the pages, annotations, form fields, bookmarks, the document
information and XMP metadata, and every embedded file. Page text is extracted with PDFium
(pypdfium2), which reads fonts written with custom CMap encodings: when a glyph is missing,
WeasyPrint writes the body font that way, and pypdf then returns the text with NULs between
the characters. pypdf's text is read as well, because PDFium skips the Type 3 fonts colour
emoji are drawn with and can leave out a colour emoji drawn over an empty outline (seen at
the end of a line), and because PDFium gives the words of a right-to-left run in visual order
(the last word first), where pypdf keeps their logical order. pypdf is the slow reader (its
text was three quarters of a released PDF's check), so it reads a file only where one of
those can happen (`pypdf_needed`): the file has a Type 3 font or a font drawing emoji, or
PDFium's text has a right-to-left character. Strings are compared normalised (`normalise`): NFKC (Arabic
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
from collections.abc import Callable, Iterator
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


def _character_class(member: Callable[[str], bool]) -> str:
    """Every code point for which `member` holds, as one regular-expression character class."""
    ranges: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if member(chr(code)):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges) + "]"


@functools.cache
def _dropped_class() -> str:
    """Every code point `normalise` drops (made once per process: matching them with a
    regular expression takes no per-character Python objects, so a package's large manifests
    are compared in a fraction of the time and memory)."""
    return _character_class(_dropped)


@functools.cache
def _dropped_pattern() -> re.Pattern[str]:
    return re.compile(_dropped_class() + "+")


def normalise(text: str) -> str:
    """NFKC, without whitespace, NULs or other control and format characters."""
    return _dropped_pattern().sub("", unicodedata.normalize("NFKC", text))


@functools.lru_cache(maxsize=4096)
def _needle_pattern(needle: str) -> re.Pattern[str]:
    """A normalised string as it can appear in NFKC text: any run of the characters
    `normalise` drops may stand between two of its characters."""
    return re.compile(f"{_dropped_class()}*".join(re.escape(char) for char in needle))


class Haystack:
    """Texts to look for normalised strings in, as if `normalise` had been applied to them
    joined: `needle in normalise("".join(texts))` is `Haystack(*texts).holds(needle)`.

    The texts are only brought to NFKC; each needle's pattern skips what `normalise` would
    have removed (a needle, being normalised, holds none of it). Stripping a large text,
    such as an embedded photo read as text, cost a released PDF's leak check more than all
    its other readers together; searching it for a needle costs a fraction of that."""

    def __init__(self, *texts: str) -> None:
        self.text = "".join(unicodedata.normalize("NFKC", text) for text in texts)

    def holds(self, needle: str) -> bool:
        return bool(needle) and _needle_pattern(needle).search(self.text) is not None


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


@functools.cache
def _right_to_left_pattern() -> re.Pattern[str]:
    """Right-to-left letters (bidirectional class R or AL): a run holding one is reordered
    for display."""
    return re.compile(_character_class(lambda char: unicodedata.bidirectional(char) in ("R", "AL")))


_HEX = re.compile(rb"<([0-9A-Fa-f\s]*)>")
_SECTION = re.compile(rb"begin(bfchar|bfrange)(.*?)end\1", re.DOTALL)


def _unicode_of(hex_digits: bytes) -> str:
    digits = re.sub(rb"\s", b"", hex_digits)
    return bytes.fromhex(digits.decode("ascii")).decode("utf-16-be", errors="replace")


# How many characters of one ToUnicode map are looked at: a real font's map names a few
# thousand; past this a (hostile) map counts as drawing emoji, so pypdf reads the file.
_MAX_MAPPED = 200_000


def _is_emoji(char: str) -> bool:
    """Emoji: pictographs (category So beyond Latin-1's signs), their variation selector and
    keycap mark, and anything past the Basic Multilingual Plane."""
    return (
        ord(char) > 0xFFFF
        or char in "\ufe0f\u20e3"
        or (ord(char) >= 0x2000 and unicodedata.category(char) == "So")
    )


def _mapped_characters(cmap: bytes) -> Iterator[str]:
    """Every character a ToUnicode CMap maps glyphs to (bfchar and bfrange destinations; a
    range's destination is its first character and the run after it)."""
    for kind, body in _SECTION.findall(cmap):
        if kind == b"bfchar":
            for token in _HEX.findall(body)[1::2]:
                yield from _unicode_of(token)
            continue
        for line in body.splitlines():
            tokens = _HEX.findall(line)
            if len(tokens) < 3:
                continue
            if b"[" in line:
                for token in tokens[2:]:
                    yield from _unicode_of(token)
                continue
            low, high = (int(re.sub(rb"\s", b"", token), 16) for token in tokens[:2])
            first = _unicode_of(tokens[2])
            if first:
                yield from first
                base = ord(first[-1])
                for n in range(1, min(high - low, sys.maxunicode - base) + 1):
                    yield chr(base + n)


def maps_emoji(cmap: bytes) -> bool:
    for count, char in enumerate(_mapped_characters(cmap)):
        if count >= _MAX_MAPPED or _is_emoji(char):
            return True
    return False


def _fonts_pdfium_may_skip(pdf: bytes) -> bool:
    """Whether any font of the file is a Type 3 font (PDFium's text skips them) or maps
    glyphs to emoji. Every object is looked at, not only the pages' resources, so a font
    reached through a form XObject or an annotation's appearance counts too; a file, or a
    font's ToUnicode map, that cannot be read counts as such a font, so pypdf still reads it."""
    try:
        with pikepdf.open(io.BytesIO(pdf)) as document:
            for obj in document.objects:
                if not isinstance(obj, pikepdf.Dictionary):
                    continue
                if obj.get("/Subtype") == "/Type3":
                    return True
                to_unicode = obj.get("/ToUnicode")
                if isinstance(to_unicode, pikepdf.Stream):
                    if maps_emoji(_stream_bytes(to_unicode)):
                        return True
    except (pikepdf.PdfError, ValueError):
        return True
    return False


def pypdf_needed(pdf: bytes, pdfium_text: str) -> bool:
    """Whether pypdf can find text that PDFium's `pdfium_text` of this file lacks: glyphs of
    a Type 3 font or emoji, or right-to-left words in their logical order."""
    return _right_to_left_pattern().search(pdfium_text) is not None or _fonts_pdfium_may_skip(pdf)


# (left, bottom, right, top) in PDF units: beyond the largest page a PDF may have (14,400).
_EVERYWHERE = (-1e9, -1e9, 1e9, 1e9)


def page_texts(pdf: bytes) -> Iterator[TextPart]:
    """The drawn text of all pages (one part per reader, so a string split across a page
    break is still found), by PDFium and, where it can find more (`pypdf_needed`), by pypdf."""
    document = pypdfium2.PdfDocument(pdf)
    pages: list[str] = []
    try:
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            # Bounds far past any page: by default PDFium reads only the page's box, and
            # text drawn outside it (an overflowing line, or hidden there) is text too.
            pages.append(textpage.get_text_bounded(*_EVERYWHERE))
            textpage.close()
            page.close()
    finally:
        document.close()
    text = "\n".join(pages)
    yield TextPart("page text", text)
    if not pypdf_needed(pdf, text):
        return
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
