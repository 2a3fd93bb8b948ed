"""The package's combined PDF: every released page in order, each stamped with the request
number and its running page number.

The archived PDFs are merged as they are (pikepdf copies their page objects; nothing is
re-rendered or re-parsed page by page), a few hundred at a time into parts on disk so that
their bytes are not all held at once, and then the parts are joined. The stamp is a few PDF
operators per page drawn in a standard font (Helvetica, WinAnsi encoding: no font program to
embed or lay out), so stamping costs the same for every page, whatever the page count.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable
from pathlib import Path

import pikepdf
from pdfminer.fontmetrics import FONT_METRICS

# Sources merged into one part before it is written out (the part's sources are then closed).
PART_SIZE = 200

_FONT = pikepdf.Name("/PVStamp")
_WIDTHS: dict[str, int] = FONT_METRICS["Helvetica"][1]
_SIZE = 8.0  # pt
_PAD_X, _PAD_Y = 4.0, 1.0  # the label's padding, pt
_RIGHT, _BOTTOM = 14.0, 10.0  # the label's distance from the page's right and bottom edges, pt
_RED = b"0.478 0 0"  # #7a0000


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


def _stamp(pdf: pikepdf.Pdf, request_number: str) -> None:
    font = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font,
            Subtype=pikepdf.Name.Type1,
            BaseFont=pikepdf.Name.Helvetica,
            Encoding=pikepdf.Name.WinAnsiEncoding,
        )
    )
    total = len(pdf.pages)
    # The page's own drawing is wrapped in q ... Q so that its graphics state (a transform
    # left in place) cannot move the stamp; one shared stream opens it for every page.
    opening = pdf.make_stream(b"q\n")
    for number, page in enumerate(pdf.pages, start=1):
        box = tuple(float(v) for v in page.mediabox)
        text = stamp_label(request_number, number, total)
        page.add_resource(font, pikepdf.Name.Font, _FONT, replace_existing=True)
        page.contents_add(opening, prepend=True)
        page.contents_add(
            pdf.make_stream(b"Q\n" + stamp_operators(text, (box[0], box[1], box[2], box[3])))
        )


def _write_part(pdfs: list[bytes], path: Path) -> None:
    part = pikepdf.new()
    sources = [pikepdf.open(io.BytesIO(data)) for data in pdfs]
    try:
        for source in sources:
            part.pages.extend(source.pages)
        part.save(path)
    finally:
        for source in sources:
            source.close()
        part.close()


def write_combined(pdfs: Iterable[bytes], request_number: str, path: Path) -> int:
    """Write the combined, stamped PDF of these PDFs to `path`; returns its page count (0: no
    pages, and nothing is written)."""
    with tempfile.TemporaryDirectory(dir=path.parent, prefix="combined.") as tmp:
        parts: list[Path] = []
        batch: list[bytes] = []
        for data in pdfs:
            batch.append(data)
            if len(batch) == PART_SIZE:
                parts.append(Path(tmp) / f"part-{len(parts):05d}.pdf")
                _write_part(batch, parts[-1])
                batch = []
        if batch:
            parts.append(Path(tmp) / f"part-{len(parts):05d}.pdf")
            _write_part(batch, parts[-1])
        out = pikepdf.new()
        opened = [pikepdf.open(part) for part in parts]
        try:
            for source in opened:
                out.pages.extend(source.pages)
            total = len(out.pages)
            if total:
                _stamp(out, request_number)
                out.save(path, deterministic_id=True)
        finally:
            for source in opened:
                source.close()
            out.close()
    return total
