"""The package's combined PDF: every released page in order, each stamped with the request
number and its running page number.

The archived PDFs are merged as they are: their page objects and what the pages use (fonts,
images, annotations, the content streams as stored) are copied object by object, renumbered,
straight to the file, one source PDF at a time (pikepdf reads each and serialises its objects;
nothing is re-rendered, decoded or re-compressed). Only the page numbers and offsets of what
was written stay in memory, so memory is the same whatever the page count; a PDF library
holding the whole document in memory to save it needs about 150 kB per item. The stamp is a
few PDF operators per page drawn in a standard font (Helvetica, WinAnsi encoding: no font
program to embed or lay out), written once the page count is known, so stamping costs the
same for every page.
"""

from __future__ import annotations

import functools
import hashlib
import io
import zlib
from array import array
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import pikepdf
from pdfminer.fontmetrics import FONT_METRICS

_FONT = b"/PVStamp"
_WIDTHS: dict[str, int] = FONT_METRICS["Helvetica"][1]
_SIZE = 8.0  # pt
_PAD_X, _PAD_Y = 4.0, 1.0  # the label's padding, pt
_RIGHT, _BOTTOM = 14.0, 10.0  # the label's distance from the page's right and bottom edges, pt
_RED = b"0.478 0 0"  # #7a0000
# Page attributes a page may inherit from its page tree (ISO 32000-1, 7.7.3.4): written on
# each copied page, which has no tree of its old document above it.
_INHERITED = ("/Resources", "/MediaBox", "/CropBox", "/Rotate")
_MAX_TREE_DEPTH = 64
# The combined PDF's own objects: its catalog, its page tree, the stamp's font and the stream
# that opens every page's drawing.
_CATALOG, _PAGES, _STAMP_FONT, _OPENING = 1, 2, 3, 4


def _text_width(text: str) -> float:
    return sum(_WIDTHS.get(c, 556) for c in text) * _SIZE / 1000


def _pdf_string(text: str) -> bytes:
    raw = text.encode("cp1252", errors="replace")
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def stamp_operators(text: str, box: tuple[float, float, float, float]) -> bytes:
    """The operators that draw the label `text` at the bottom right of a page with this
    media box: a white box with a thin red border, the text in red over it."""
    x0, y0, x1, _ = box
    width = _text_width(text)
    right, bottom = x1 - _RIGHT, y0 + _BOTTOM
    left = right - width - 2 * _PAD_X
    height = _SIZE + 2 * _PAD_Y + 2  # the font's ascent and descent fit inside
    return (
        b"q 1 1 1 rg " + _RED + b" RG 0.5 w "
        + f"{left:.2f} {bottom:.2f} {width + 2 * _PAD_X:.2f} {height:.2f} re B ".encode()
        + _RED + b" rg BT /PVStamp " + f"{_SIZE:g}".encode() + b" Tf "
        + f"{left + _PAD_X:.2f} {bottom + _PAD_Y + 2:.2f} Td ".encode()
        + _pdf_string(text) + b" Tj ET Q\n"
    )  # fmt: skip


def stamp_label(request_number: str, number: int, total: int) -> str:
    """The label stamped on page `number` of a combined PDF of `total` pages."""
    return f"Open-records request {request_number} · page {number} of {total}"


class _Writer:
    """A PDF file written object by object: each object's offset is kept (for the cross
    reference table), and the MD5 of the bytes written makes the file's ID, so the same
    pages give the same bytes."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self._written = 0
        self._digest = hashlib.md5(usedforsecurity=False)
        self.offsets = array("q", [0])  # by object number; 0 is the free list's head
        self.version = "1.7"

    def write(self, data: bytes) -> None:
        self._handle.write(data)
        self._digest.update(data)
        self._written += len(data)

    def reserve(self) -> int:
        self.offsets.append(0)
        return len(self.offsets) - 1

    def object(self, number: int, body: bytes) -> None:
        self.offsets[number] = self._written
        self.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def stream(self, number: int, dictionary: bytes, raw: bytes) -> None:
        """A stream object; `dictionary` is its entries but /Length, as stored."""
        self.object(
            number, b"<<%s /Length %d>>\nstream\n%s\nendstream" % (dictionary, len(raw), raw)
        )

    def finish(self) -> None:
        """The cross-reference table and the trailer."""
        start = self._written
        file_id = self._digest.hexdigest().encode()
        table = [b"xref\n0 %d\n0000000000 65535 f \n" % len(self.offsets)]
        table.extend(b"%010d 00000 n \n" % offset for offset in self.offsets[1:])
        self.write(b"".join(table))
        self.write(
            b"trailer\n<< /Size %d /Root %d 0 R /ID [<%s> <%s>] >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(self.offsets), _CATALOG, file_id, file_id, start)
        )


def _leaf(value: Any) -> bytes:
    """A direct value holding no reference (a number, string, name, boolean or null), as
    pikepdf writes it."""
    # pikepdf gives integers and booleans as Python values: written here as pikepdf writes
    # them, without a pikepdf array made for each (a font's /Widths holds hundreds).
    if type(value) is int:
        return b"%d" % value
    if type(value) is bool:
        return b"true" if value else b"false"
    if isinstance(value, pikepdf.Object):
        return bytes(value.unparse(resolved=True))
    return bytes(pikepdf.Array([value]).unparse())[1:-1].strip()


@functools.lru_cache(maxsize=4096)
def _name(key: str) -> bytes:
    """A dictionary key as pikepdf writes it (the same few names recur in every source)."""
    return bytes(pikepdf.Name(key).unparse())


class _Copier:
    """Copies the objects one source PDF's pages use into the writer, each once, renumbered
    as it is reached. A reference to one of the source's pages points at its copy; its page
    tree and catalog are not copied (a page's /Parent is the combined PDF's tree)."""

    def __init__(self, writer: _Writer) -> None:
        self._writer = writer
        self.numbers: dict[tuple[int, int], int] = {}
        self._queue: list[pikepdf.Object] = []

    def ref(self, obj: pikepdf.Object) -> bytes:
        number = self.numbers.get(obj.objgen)
        if number is None:
            number = self.numbers[obj.objgen] = self._writer.reserve()
            self._queue.append(obj)
        return b"%d 0 R" % number

    def value(self, value: Any) -> bytes:
        if isinstance(value, pikepdf.Object) and value.is_indirect:
            return self.ref(value)
        if isinstance(value, pikepdf.Dictionary):
            return self.dictionary(value)
        if isinstance(value, pikepdf.Array):
            return b"[" + b" ".join(self.value(item) for item in value) + b"]"
        return _leaf(value)

    def dictionary(self, value: pikepdf.Object, skip: tuple[str, ...] = ()) -> bytes:
        return b"<<" + self.entries(value, skip) + b">>"

    def entries(self, value: pikepdf.Object, skip: tuple[str, ...] = ()) -> bytes:
        return b"".join(
            b" " + _name(key) + b" " + self.value(value.get(key))
            for key in sorted(value.keys())  # a set: its order changes from process to process
            if key not in skip
        )

    def drain(self) -> None:
        """Write every object reached and not written yet (and what they reach in turn)."""
        while self._queue:
            obj = self._queue.pop()
            number = self.numbers[obj.objgen]
            if isinstance(obj, pikepdf.Stream):
                self._writer.stream(
                    number, self.entries(obj.stream_dict, ("/Length",)), obj.read_raw_bytes()
                )
            elif isinstance(obj, pikepdf.Dictionary) and obj.get("/Type") in (
                "/Pages",
                "/Catalog",
            ):
                self._writer.object(number, b"null")  # the source's tree: not carried over
            elif isinstance(obj, pikepdf.Dictionary | pikepdf.Array):
                self._writer.object(number, self._direct(obj))
            else:
                self._writer.object(number, _leaf(obj))

    def _direct(self, obj: pikepdf.Object) -> bytes:
        if isinstance(obj, pikepdf.Dictionary):
            return self.dictionary(obj)
        return b"[" + b" ".join(self.value(item) for item in obj) + b"]"


def _inherited(page: pikepdf.Object, key: str) -> Any:
    node: Any = page
    for _ in range(_MAX_TREE_DEPTH):
        if not isinstance(node, pikepdf.Dictionary):
            return None
        if key in node:
            return node.get(key)
        node = node.get("/Parent")
    return None


def _box(value: Any) -> tuple[float, float, float, float]:
    if isinstance(value, pikepdf.Array) and len(value) == 4:
        x0, y0, x1, y1 = (float(v) for v in value)
        return (x0, y0, x1, y1)
    return (0.0, 0.0, 612.0, 792.0)  # US Letter: what a page without a media box is read as


class _Stamps:
    """What each page's stamp needs once the page count is known: its stream's object
    number and the page's media box (x0, y0, x1)."""

    def __init__(self) -> None:
        self.numbers = array("q")
        self.boxes = array("d")

    def add(self, number: int, box: tuple[float, float, float, float]) -> None:
        self.numbers.append(number)
        self.boxes.extend(box[:3])


def _copy_pages(writer: _Writer, source: pikepdf.Pdf, kids: array[int], stamps: _Stamps) -> None:
    copier = _Copier(writer)
    pages = [page.obj for page in source.pages]
    for page in pages:  # numbered first, so that links to them point at the copies
        copier.numbers[page.objgen] = writer.reserve()
    for page in pages:
        number = copier.numbers[page.objgen]
        stamp = writer.reserve()
        contents = page.get("/Contents")
        streams = list(contents) if isinstance(contents, pikepdf.Array) else [contents]
        drawing = [
            copier.value(s) for s in streams if isinstance(s, pikepdf.Object) and s.is_indirect
        ]
        # The page's own drawing is wrapped in q ... Q (the shared opening stream, and the
        # stamp's stream begins with Q) so that a graphics state it leaves in place (a
        # transform) cannot move the stamp.
        contents_array = b"[%d 0 R %s %d 0 R]" % (_OPENING, b" ".join(drawing), stamp)
        resources = _inherited(page, "/Resources")
        fonts = resources.get("/Font") if isinstance(resources, pikepdf.Dictionary) else None
        font_entries = (
            copier.entries(fonts, (_FONT.decode(),))
            if isinstance(fonts, pikepdf.Dictionary)
            else b""
        )
        resource_entries = (
            copier.entries(resources, ("/Font",))
            if isinstance(resources, pikepdf.Dictionary)
            else b""
        )
        own = copier.entries(page, ("/Parent", "/Contents", *_INHERITED))
        inherited = b"".join(
            b" " + key.encode() + b" " + copier.value(value)
            for key in _INHERITED[1:]
            if (value := _inherited(page, key)) is not None
        )
        writer.object(
            number,
            b"<<%s%s /Parent %d 0 R /Contents %s /Resources <<%s /Font <<%s %s %d 0 R>>>>>>"
            % (
                own,
                inherited,
                _PAGES,
                contents_array,
                resource_entries,
                font_entries,
                _FONT,
                _STAMP_FONT,
            ),
        )
        kids.append(number)
        stamps.add(stamp, _box(_inherited(page, "/MediaBox")))
    copier.drain()


class CombinedWriter:
    """The combined PDF, written as its sources come (`add` each, in order, then `finish`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: IO[bytes] = path.open("wb")
        self._writer = _Writer(self._handle)
        self._kids: array[int] = array("q")
        self._stamps = _Stamps()
        self._writer.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        for _ in (_CATALOG, _PAGES, _STAMP_FONT, _OPENING):
            self._writer.reserve()
        self._writer.object(
            _STAMP_FONT,
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        )
        self._writer.stream(_OPENING, b"", b"q\n")

    def add(self, data: bytes) -> None:
        """Copy the pages of one source PDF."""
        writer = self._writer
        with pikepdf.open(io.BytesIO(data)) as source:
            writer.version = max(writer.version, str(source.pdf_version), key=_version_key)
            _copy_pages(writer, source, self._kids, self._stamps)

    def finish(self, request_number: str) -> int:
        """Stamp the pages and end the file; returns its page count (0: no pages, and the
        file is removed)."""
        writer, kids, stamps = self._writer, self._kids, self._stamps
        total = len(kids)
        try:
            for index in range(total):
                x0, y0, x1 = stamps.boxes[3 * index : 3 * index + 3]
                label = stamp_label(request_number, index + 1, total)
                drawing = b"Q\n" + stamp_operators(label, (x0, y0, x1, 0.0))
                writer.stream(
                    stamps.numbers[index], b" /Filter /FlateDecode", zlib.compress(drawing, 6)
                )
            writer.object(
                _PAGES,
                b"<< /Type /Pages /Kids [%s] /Count %d >>"
                % (b" ".join(b"%d 0 R" % kid for kid in kids), total),
            )
            writer.object(_CATALOG, b"<< /Type /Catalog /Pages %d 0 R >>" % _PAGES)
            writer.finish()
            if writer.version != "1.7":
                self._handle.seek(len(b"%PDF-"))
                self._handle.write(writer.version.encode()[:3])
        finally:
            self._handle.close()
        if not total:
            self.path.unlink(missing_ok=True)
        return total

    def discard(self) -> None:
        self._handle.close()
        self.path.unlink(missing_ok=True)


def write_combined(pdfs: Iterable[bytes], request_number: str, path: Path) -> int:
    """Write the combined, stamped PDF of these PDFs to `path`; returns its page count (0: no
    pages, and nothing is written)."""
    combined = CombinedWriter(path)
    try:
        for data in pdfs:
            combined.add(data)
    except BaseException:
        combined.discard()
        raise
    return combined.finish(request_number)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2] if part.isdigit())
