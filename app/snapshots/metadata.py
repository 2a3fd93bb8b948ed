"""Reading PostVault's own XMP properties back from a snapshot PDF."""

from __future__ import annotations

import io

import pikepdf

from app.snapshots.pdf_objects import XMP_NAMESPACE


def read_missing_glyphs(pdf: bytes) -> list[str] | None:
    """The characters the snapshot's XMP says no font could draw (["U+1F68D", ...]), or None
    when the PDF does not say (made before PostVault checked, or not a snapshot)."""
    with pikepdf.open(io.BytesIO(pdf)) as document:
        meta = document.open_metadata()
        count = meta.get(f"{{{XMP_NAMESPACE}}}missingGlyphCount")
        if count is None:
            return None
        listed = str(meta.get(f"{{{XMP_NAMESPACE}}}missingGlyphs") or "")
    return listed.split()
