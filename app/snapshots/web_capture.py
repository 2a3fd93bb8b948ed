"""The snapshot's block for a browser capture (the web platform): the full-page screenshot
drawn as JPEG tiles the width of the page, the page's facts, and the WACZ web archive,
embedded as an associated file or, past POSTVAULT_WEB_WACZ_EMBED_MAX_BYTES, named by hash.

Kept apart from render.py so the general renderer stays as it is; render.py calls
`web_capture_block` once and the template includes snapshot_web.html when it returns one.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import Any

from PIL import Image

from app.snapshots.schemas import FileReference, SnapshotView

TILE_WIDTH = 1200  # pixels: the page's text column at print resolution
TILE_HEIGHT = 1500  # one tile is at most about a printed page
MAX_TILES = 16  # a very long page is cut here; the PNG attached beside it is whole
JPEG_QUALITY = 80


@dataclass(frozen=True)
class Tile:
    src: str
    alt: str
    width: int
    height: int


@dataclass
class WebCaptureBlock:
    tiles: list[Tile] = field(default_factory=list)
    truncated: bool = False
    screenshot_sha256: str | None = None
    screenshot_size: tuple[int, int] | None = None
    wacz_sha256: str | None = None
    wacz_size: int | None = None
    wacz_embedded: bool = False
    facts: dict[str, Any] = field(default_factory=dict)


def _tiles(
    data: bytes, sha256: str, resources: dict[str, tuple[bytes, str]]
) -> tuple[list[Tile], tuple[int, int], bool]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            image = opened.convert("RGB")
    size = image.size
    if image.width > TILE_WIDTH:
        height = max(1, round(image.height * TILE_WIDTH / image.width))
        image = image.resize((TILE_WIDTH, height), Image.Resampling.LANCZOS)
    tiles: list[Tile] = []
    top = 0
    while top < image.height and len(tiles) < MAX_TILES:
        piece = image.crop((0, top, image.width, min(top + TILE_HEIGHT, image.height)))
        out = io.BytesIO()
        piece.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
        key = f"archive:rendition/{sha256}-{len(tiles) + 1}.jpg"
        resources[key] = (out.getvalue(), "image/jpeg")
        tiles.append(
            Tile(key, f"Screenshot of the page, part {len(tiles) + 1}", piece.width, piece.height)
        )
        top += TILE_HEIGHT
    return tiles, size, top < image.height


def web_capture_block(
    view: SnapshotView, attachments: dict[str, Any], resources: dict[str, tuple[bytes, str]]
) -> WebCaptureBlock | None:
    """The block for a version with a browser screenshot or WACZ, else None. Marks the
    screenshot drawn (its PNG stays attached)."""
    shot = next((m for m in view.media if m.role == "screenshot"), None)
    wacz = next((m for m in view.media if m.role == "wacz"), None)
    referenced: FileReference | None = next(
        (f for f in view.referenced_files if f.role == "wacz"), None
    )
    if shot is None and wacz is None and referenced is None and "provenance" not in view.post.extra:
        return None
    block = WebCaptureBlock(facts=dict(view.post.extra))
    if shot is not None:
        try:
            block.tiles, block.screenshot_size, block.truncated = _tiles(
                shot.data, shot.sha256, resources
            )
        except (OSError, ValueError, Image.DecompressionBombWarning):
            block.tiles = []  # not drawable; the original is still attached
        block.screenshot_sha256 = shot.sha256
        if shot.sha256 in attachments and block.tiles:
            attachments[shot.sha256].drawn = True
    if wacz is not None:
        block.wacz_sha256, block.wacz_size, block.wacz_embedded = wacz.sha256, len(wacz.data), True
    elif referenced is not None:
        block.wacz_sha256, block.wacz_size = referenced.sha256, referenced.size
    return block
