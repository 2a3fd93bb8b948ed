"""The combined PDF of a package, written object by object: every source page as it was (its
drawing, resources, inherited attributes and links), stamped, in a valid file with the same
bytes for the same sources."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pikepdf
from pypdf import PdfReader

from app.open_records.combined import stamp_label, write_combined


def _font(pdf: pikepdf.Pdf) -> pikepdf.Object:
    return pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
        )
    )


def _text(pdf: pikepdf.Pdf, words: str) -> pikepdf.Stream:
    return pdf.make_stream(f"BT /F1 12 Tf 72 700 Td ({words}) Tj ET".encode())


def two_pages_inheriting() -> bytes:
    """Two pages taking their media box and resources from the page tree, the first drawn
    by an array of streams (one leaving a transform in place) and linking to the second."""
    pdf = pikepdf.new()
    for words in ("Alpha one", "Alpha two"):
        pdf.add_blank_page()
        pdf.pages[-1].obj.Contents = _text(pdf, words)
    tree = pdf.Root.Pages
    tree.MediaBox = pikepdf.Array([0, 0, 300, 400])
    tree.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=_font(pdf)))
    for page in pdf.pages:
        del page.obj["/MediaBox"]
        if "/Resources" in page.obj:
            del page.obj["/Resources"]
    first, second = pdf.pages[0].obj, pdf.pages[1].obj
    first.Contents = pikepdf.Array([pdf.make_stream(b"2 0 0 2 0 0 cm"), first.Contents])
    first.Annots = pikepdf.Array(
        [
            pdf.make_indirect(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Annot,
                    Subtype=pikepdf.Name.Link,
                    Rect=pikepdf.Array([0, 0, 10, 10]),
                    P=first,
                    Dest=pikepdf.Array([second, pikepdf.Name.Fit]),
                )
            )
        ]
    )
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def one_page() -> bytes:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    page = pdf.pages[0]
    page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=_font(pdf)))
    page.obj.Contents = _text(pdf, "Beta (only)")
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_the_pages_are_copied_as_they_are_and_stamped(tmp_path: Path) -> None:
    path = tmp_path / "combined.pdf"
    assert write_combined([two_pages_inheriting(), one_page()], "R-7", path) == 3

    with pikepdf.open(path) as pdf:
        assert pdf.check_pdf_syntax() == []
        pages = pdf.pages
        assert len(pages) == 3
        assert [list(map(float, p.mediabox)) for p in pages] == [
            [0, 0, 300, 400],
            [0, 0, 300, 400],
            [0, 0, 595, 842],
        ]
        [link] = pages[0].obj.Annots
        assert link.P.objgen == pages[0].obj.objgen
        assert link.Dest[0].objgen == pages[1].obj.objgen
        assert "/F1" in pages[0].obj.Resources.Font
    texts = [page.extract_text() for page in PdfReader(str(path)).pages]
    for number, (text, words) in enumerate(
        zip(texts, ("Alpha one", "Alpha two", "Beta (only)"), strict=True), start=1
    ):
        assert words in text
        assert stamp_label("R-7", number, 3) in text


def test_the_same_sources_give_the_same_bytes(tmp_path: Path) -> None:
    sources = [one_page(), two_pages_inheriting()]
    first, second = tmp_path / "a.pdf", tmp_path / "b.pdf"
    write_combined(sources, "R-7", first)
    write_combined(sources, "R-7", second)
    assert first.read_bytes() == second.read_bytes()


def test_no_pages_write_nothing(tmp_path: Path) -> None:
    path = tmp_path / "combined.pdf"
    assert write_combined([], "R-7", path) == 0
    assert not path.exists()


_WRITE_COMBINED = """
import sys
from pathlib import Path
from app.open_records.combined import write_combined
sources = [Path(name).read_bytes() for name in sys.argv[2:]]
write_combined(sources, "R-2026-0001", Path(sys.argv[1]))
"""


def test_the_same_sources_give_the_same_bytes_in_every_process(tmp_path: Path) -> None:
    """pikepdf gives a dictionary's keys as a set, whose order follows the process's string
    hashing: the copier must not write them in that order, or each package process would
    write a different combined PDF (and a different package hash) for the same pages."""
    sources = [tmp_path / "inheriting.pdf", tmp_path / "second.pdf"]
    sources[0].write_bytes(two_pages_inheriting())
    sources[1].write_bytes(two_pages_inheriting())
    outputs = []
    for seed in ("1", "2", "3"):
        out = tmp_path / f"combined-{seed}.pdf"
        subprocess.run(
            [sys.executable, "-c", _WRITE_COMBINED, str(out), *map(str, sources)],
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=Path(__file__).resolve().parents[2],
        )
        outputs.append(out.read_bytes())
    assert outputs[0] == outputs[1] == outputs[2]
