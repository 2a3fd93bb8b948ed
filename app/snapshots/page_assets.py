"""What a snapshot page may draw on: JPEG renditions of pictures, file names for attachments, and\nthe offline fetcher that serves only what the archive passed in. Part of the renderer: a change\nhere is a new renderer version (see `app.snapshots.render.RENDERER_VERSION`)."""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError
from weasyprint.urls import URLFetcher, URLFetcherResponse

# Page images keep at least this many pixels on their longest edge (and less than twice it).
# The original file is attached unchanged; the page shows a JPEG rendition because WeasyPrint
# re-encodes PNGs slowly and embeds JPEGs as they are.
RENDITION_MAX_EDGE = 1200


RENDITION_QUALITY = 82


def jpeg_rendition(data: bytes, *, max_edge: int = RENDITION_MAX_EDGE) -> bytes | None:
    """A JPEG for the page, at most twice `max_edge` pixels, or None when it is not a picture.

    An upright RGB JPEG up to twice `max_edge` is used as it is (WeasyPrint embeds JPEGs
    without decoding them). Anything else is decoded once (a large JPEG at a reduced scale,
    straight from its DCT data), shrunk only by whole factors (a box filter, cheap, where
    fractional resampling costs more than the render itself), turned upright, flattened onto
    white and encoded as JPEG.
    """
    try:
        with warnings.catch_warnings():
            # A decompression bomb is not drawn (its original is still attached).
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                orientation = image.getexif().get(0x0112, 1)
                if (
                    image.format == "JPEG"
                    and image.mode == "RGB"
                    and max(image.size) < 2 * max_edge
                    and orientation == 1
                ):
                    return data
                if image.format == "JPEG":
                    image.draft("RGB", (max_edge, max_edge))
                picture: Image.Image = image
                factor = max(picture.size) // max_edge
                if factor >= 2:
                    if picture.mode not in ("RGB", "RGBA", "L", "LA"):
                        picture = picture.convert("RGBA")
                    picture = picture.reduce(factor)
                if orientation != 1:
                    picture = ImageOps.exif_transpose(picture)
                if picture.mode in ("RGBA", "LA", "PA") or (
                    picture.mode == "P" and "transparency" in picture.info
                ):
                    rgba = picture.convert("RGBA")
                    flat = Image.new("RGB", rgba.size, (255, 255, 255))
                    flat.paste(rgba, mask=rgba.getchannel("A"))
                    picture = flat
                elif picture.mode != "RGB":
                    picture = picture.convert("RGB")
                out = io.BytesIO()
                picture.save(out, format="JPEG", quality=RENDITION_QUALITY)
                return out.getvalue()
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
        OSError,
        ValueError,
        SyntaxError,  # some truncated files raise it from Pillow's parsers
    ):
        return None


_EXTENSIONS = {
    "application/wacz": "wacz",
    "application/pdf": "pdf",
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/gif": "gif",
    "image/webp": "webp",
    "image/avif": "avif",
    "image/heic": "heic",
    "image/svg+xml": "svg",
    "video/mp4": "mp4",
    "video/webm": "webm",
    "video/quicktime": "mov",
    "audio/mpeg": "mp3",
    "audio/ogg": "ogg",
    "audio/mp4": "m4a",
    "application/json": "json",
}


def file_extension(mime_type: str) -> str:
    return _EXTENSIONS.get(mime_type.split(";")[0].strip().lower(), "bin")


class ArchiveFetcher(URLFetcher):  # type: ignore[misc]
    """Serves only what the caller passed (by `archive:` key) and data: URIs; nothing else.

    Every other URL fails, so a hostile page cannot make the renderer reach the network or
    the file system, and rendering never depends on a server being up.
    """

    SCHEME = "archive:"

    def __init__(self, resources: dict[str, tuple[bytes, str]] | None = None) -> None:
        super().__init__(allowed_protocols=("data",), allow_redirects=False)
        self.resources = resources or {}
        self.refused: list[str] = []

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        if url in self.resources:
            data, mime_type = self.resources[url]
            return URLFetcherResponse(url, body=data, headers={"Content-Type": mime_type})
        if url.startswith("data:"):
            return super().fetch(url, headers)
        self.refused.append(url)
        raise ValueError(f"snapshots load nothing from outside the archive: refused {url[:200]}")
