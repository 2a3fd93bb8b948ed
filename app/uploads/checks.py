"""Is an uploaded file what it says it is? Each kind is opened by an independent reader before
anything is stored: a WACZ must pass py-wacz's validation and hold the post's URL, a PDF must
open and have pages, an image must decode, a video must have its container's signature."""

from __future__ import annotations

import json
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from app.errors import Invalid

KINDS = ("wacz", "pdf", "screenshot", "original")
_VIDEO_SIGNATURES = (
    (4, b"ftyp", "video/mp4"),  # MP4 / MOV / M4V (ISO base media)
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),  # WebM / Matroska (EBML)
)
MAX_TEXT = 200_000


@dataclass(frozen=True)
class CheckedFile:
    kind: str
    mime_type: str
    text: str  # what search and classification read ("" when the file has none)
    tool: str | None = None  # what made it, when the file says
    width: int | None = None
    height: int | None = None


def guess_kind(filename: str, head: bytes) -> str:
    """The kind when the uploader did not say: by signature, then by name."""
    name = filename.lower()
    if head.startswith(b"%PDF"):
        return "pdf"
    if head.startswith(b"PK") and name.endswith(".wacz"):
        return "wacz"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff")):
        return "screenshot"
    if name.endswith(".wacz"):
        return "wacz"
    if name.endswith(".pdf"):
        return "pdf"
    if name.endswith((".png", ".jpg", ".jpeg")):
        return "screenshot"
    return "original"


def check_upload(
    path: Path, *, kind: str, post_urls: list[str], max_unpacked_bytes: int
) -> CheckedFile:
    """Open the file as `kind`; Invalid (a 422) saying what is wrong with it."""
    if kind == "wacz":
        return _check_wacz(path, post_urls, max_unpacked_bytes)
    if kind == "pdf":
        return _check_pdf(path)
    if kind == "screenshot":
        return _check_image(path, allowed=("PNG", "JPEG"), what="a screenshot")
    if kind == "original":
        return _check_original(path)
    raise Invalid(f"unknown kind of upload '{kind}': use one of {', '.join(KINDS)}")


def _check_wacz(path: Path, post_urls: list[str], max_unpacked_bytes: int) -> CheckedFile:
    from app.platforms.web.wacz import index_urls, same_url, validate_wacz

    check = validate_wacz(path, max_unpacked_bytes=max_unpacked_bytes)
    if not check.valid:
        raise Invalid(f"the WACZ is not valid: {'; '.join(check.problems)}")
    try:
        urls = index_urls(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise Invalid(f"the WACZ's index cannot be read: {exc}") from None
    if not any(same_url(found, wanted) for found in urls for wanted in post_urls):
        raise Invalid(
            f"the WACZ does not contain the post's URL ({post_urls[0]}): it holds "
            f"{len(urls)} other address{'es' if len(urls) != 1 else ''}; record the post's "
            "own page"
        )
    return CheckedFile(
        kind="wacz",
        mime_type="application/wacz",
        text=_wacz_text(path, post_urls),
        tool=check.software,
    )


def _wacz_text(path: Path, post_urls: list[str]) -> str:
    """The text ArchiveWeb.page / py-wacz listed for the post's page, if any."""
    from app.platforms.web.wacz import same_url

    with zipfile.ZipFile(path) as archive:
        names = [n for n in archive.namelist() if n.startswith("pages/") and n.endswith(".jsonl")]
        for name in names:
            for line in archive.read(name).decode("utf-8", "replace").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if (
                    isinstance(entry, dict)
                    and isinstance(entry.get("url"), str)
                    and any(same_url(entry["url"], u) for u in post_urls)
                ):
                    text = entry.get("text") or entry.get("title") or ""
                    return str(text)[:MAX_TEXT]
    return ""


def _check_pdf(path: Path) -> CheckedFile:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(str(path))
            if reader.is_encrypted:
                raise Invalid("the PDF is encrypted: save it again without a password")
            pages = len(reader.pages)
            text = "\n".join((page.extract_text() or "") for page in reader.pages[:50])
            producer = reader.metadata.get("/Producer") if reader.metadata else None
    except Invalid:
        raise
    except (PyPdfError, OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise Invalid(f"the PDF cannot be opened: {type(exc).__name__}: {exc}") from None
    if pages == 0:
        raise Invalid("the PDF has no pages")
    return CheckedFile(
        kind="pdf",
        mime_type="application/pdf",
        text=text.strip()[:MAX_TEXT],
        tool=str(producer)[:255] if producer else None,
    )


def _check_image(path: Path, *, allowed: tuple[str, ...], what: str) -> CheckedFile:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as checked:
                checked.verify()  # chunk checksums (PNG) and structure, before decoding
            with Image.open(path) as image:
                image_format = image.format or ""
                image.load()  # decodes every pixel: a truncated file fails here
                width, height = image.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning) as exc:
        raise Invalid(f"{what} must be an image that decodes: {exc}") from None
    if image_format not in allowed:
        raise Invalid(f"{what} must be {' or '.join(allowed)}, not {image_format or 'unknown'}")
    mime = Image.MIME.get(image_format, "application/octet-stream")
    return CheckedFile(kind="screenshot", mime_type=mime, text="", width=width, height=height)


def _check_original(path: Path) -> CheckedFile:
    with path.open("rb") as handle:
        head = handle.read(16)
    for offset, signature, mime in _VIDEO_SIGNATURES:
        if head[offset : offset + len(signature)] == signature:
            return CheckedFile(kind="original", mime_type=mime, text="")
    image = _check_image(
        path,
        allowed=("PNG", "JPEG", "GIF", "WEBP", "HEIF", "AVIF"),
        what="the original photo or video (MP4, MOV, WebM or an image)",
    )
    return CheckedFile(
        kind="original", mime_type=image.mime_type, text="", width=image.width, height=image.height
    )
