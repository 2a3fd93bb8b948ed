"""The snapshot renderer's version: WeasyPrint's and a digest of the templates, the CSS and
the renderer's modules. Any change to them is a new renderer version, so `postvault snapshots
rerender` knows which snapshots are outdated."""

from __future__ import annotations

import hashlib
from pathlib import Path

import weasyprint

_HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = _HERE / "templates"
# The renderer's code: the page, what it draws pages with, and the PDF objects it adjusts.
RENDERER_MODULES = tuple(
    _HERE / name
    for name in ("render.py", "page_assets.py", "web_capture.py", "pdf_objects.py", "version.py")
)


def _source_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(TEMPLATES_DIR.iterdir()):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    for module in RENDERER_MODULES:
        digest.update(module.read_bytes())
    return digest.hexdigest()[:10]


RENDERER_VERSION = f"1+wp{weasyprint.__version__}+{_source_digest()}"
