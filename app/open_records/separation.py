"""Separating information (Wis. Stat. 19.36(6)), the pure part: which text fields an item has,
taking redacted strings out of every string of a capture, and blacking out regions of images.

No database and no store here: redaction.py reads the item and calls these.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from PIL import Image, ImageDraw, ImageOps

from app.platforms.collected import Author, CollectedPost, EmbeddedPost, MediaRef

POST_TEXT = "text"  # the post's own text (the version's text, as search and diffs use it)

# Keys whose values are identifiers of bytes or kinds, never content shown to a reader: a
# short redacted string must not be "found" inside a hash or a role name.
STRUCTURAL_KEYS = frozenset({"sha256", "mime_type", "role", "kind", "platform", "visibility"})


def marker(exemption: str) -> str:
    return f"[REDACTED: {exemption}]"


# --- the fields of an item ------------------------------------------------------------------


def _author_fields(prefix: str, author: Author) -> Iterator[tuple[str, str | None]]:
    yield f"{prefix}author.display_name", author.display_name
    yield f"{prefix}author.handle", author.handle
    yield f"{prefix}author.profile_url", author.profile_url


def _media_fields(prefix: str, media: Sequence[MediaRef]) -> Iterator[tuple[str, str | None]]:
    for index, ref in enumerate(media):
        yield f"{prefix}media.{index}.alt_text", ref.alt_text


def _embedded_fields(prefix: str, post: EmbeddedPost | None) -> Iterator[tuple[str, str | None]]:
    if post is None:
        return
    yield f"{prefix}text", post.text
    yield from _author_fields(prefix, post.author)
    yield from _media_fields(prefix, post.media)


def _extra_fields(prefix: str, value: Any, depth: int = 0) -> Iterator[tuple[str, str | None]]:
    if depth > 6:
        return
    if isinstance(value, str):
        yield prefix, value
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            yield from _extra_fields(f"{prefix}.{key}", inner, depth + 1)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _extra_fields(f"{prefix}.{index}", inner, depth + 1)


def text_fields(post: CollectedPost, version_text: str | None = None) -> dict[str, str]:
    """Every non-empty text field of a capture, by path: the post's text, title, author,
    alt text, link card, quoted and reposted posts, each reply (by its id) and the facts of a
    web capture (`extra.…`)."""

    def all_fields() -> Iterator[tuple[str, str | None]]:
        yield POST_TEXT, version_text if version_text is not None else post.text
        yield "title", post.title
        yield from _author_fields("", post.author)
        yield from _media_fields("", post.media)
        card = post.link_card
        if card is not None:
            yield "link_card.url", card.url
            yield "link_card.title", card.title
            yield "link_card.description", card.description
            if card.thumb is not None:
                yield "link_card.thumb.alt_text", card.thumb.alt_text
        yield from _embedded_fields("quote_of.", post.quote_of)
        yield from _embedded_fields("repost_of.", post.repost_of)
        for reply in post.replies:
            prefix = f"replies.{reply.id}."
            yield f"{prefix}text", reply.text
            yield from _author_fields(prefix, reply.author)
            yield from _media_fields(prefix, reply.media)
        for key, value in post.extra.items():
            yield from _extra_fields(f"extra.{key}", value)
        for index, link in enumerate(post.links):
            yield f"links.{index}", link

    return {path: value for path, value in all_fields() if value}


# --- taking strings out -----------------------------------------------------------------------


class Scrubber:
    """Replaces each redacted string, wherever it occurs, by the marker of its reason
    (longest strings first, so a name inside a longer redacted phrase goes with the phrase)."""

    def __init__(self, secrets: Sequence[tuple[str, str]]):
        unique: dict[str, str] = {}
        for secret, reason in secrets:
            if secret.strip():
                unique.setdefault(secret, reason)
        self.pairs = sorted(unique.items(), key=lambda pair: -len(pair[0]))

    @property
    def secrets(self) -> list[str]:
        return [secret for secret, _ in self.pairs]

    def __bool__(self) -> bool:
        return bool(self.pairs)

    def text(self, value: str) -> str:
        for secret, reason in self.pairs:
            if secret in value:
                value = value.replace(secret, marker(reason))
        return value

    def optional(self, value: str | None) -> str | None:
        return None if value is None else self.text(value)

    def tree(self, value: Any, depth: int = 0) -> Any:
        """Every string of a JSON-like value scrubbed (not the structural keys' values)."""
        if depth > 64:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                key: inner if key in STRUCTURAL_KEYS else self.tree(inner, depth + 1)
                for key, inner in value.items()
            }
        if isinstance(value, list):
            return [self.tree(inner, depth + 1) for inner in value]
        return value


# --- blacking out image regions ---------------------------------------------------------------


class ImageUnreadable(ValueError):
    """The file is not a picture Pillow can open, or is too big to decode."""


def open_picture(data: bytes) -> Image.Image:
    """The picture upright (its EXIF orientation applied), fully decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                opened.load()
                upright = ImageOps.exif_transpose(opened)
                upright.load()
                return upright
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombWarning) as exc:
        raise ImageUnreadable(f"the file is not a picture that can be read: {exc}") from None


def picture_size(data: bytes) -> tuple[int, int]:
    return open_picture(data).size


def black_out(data: bytes, boxes: Sequence[Mapping[str, int]]) -> bytes:
    """The picture with every box filled black, re-encoded as a new PNG from its pixels alone:
    no EXIF, XMP, ICC profile, text chunks, thumbnails or other frames of the original remain.
    Boxes are in the upright picture's pixels and are clipped to it."""
    picture = open_picture(data)
    mode = (
        "RGBA" if picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info else "RGB"
    )
    frame = picture.convert(mode)
    draw = ImageDraw.Draw(frame)
    fill = (0, 0, 0, 255) if mode == "RGBA" else (0, 0, 0)
    for box in boxes:
        left, top = box["x"], box["y"]  # not a platform id: the region's corner
        right = min(frame.width, left + box["width"]) - 1
        bottom = min(frame.height, top + box["height"]) - 1
        if right >= left and bottom >= top:
            draw.rectangle((left, top, right, bottom), fill=fill)
    # Only the pixels cross over: a new image has no info, no profile, no frames.
    clean = Image.frombytes(mode, frame.size, frame.tobytes())
    out = io.BytesIO()
    clean.save(out, format="PNG")
    return out.getvalue()
