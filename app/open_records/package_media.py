"""The media a snapshot names by hash only (a podcast episode's audio, a long video): a
response package carries each as its own file beside the item's PDF."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import get_settings
from app.posts.models import VersionMedia
from app.snapshots.page_assets import file_extension
from app.storage.models import StoredObject

# The roles a snapshot references by hash past POSTVAULT_AUDIO_EMBED_MAX_BYTES.
KEPT_ROLES = ("audio", "video")


@dataclass(frozen=True)
class KeptMedia:
    role: str
    sha256: str
    mime_type: str
    # The bytes stay in the store (an episode's audio can be hundreds of megabytes): they are
    # read, verified, when the package's leak check and its ZIP get to them.
    size: int

    def path(self, item_name: str) -> str:
        stem = item_name.removesuffix(".pdf")
        return f"data/items/{stem}-{self.role}-{self.sha256[:12]}.{file_extension(self.mime_type)}"


def kept_media(session: Session, version_id: int) -> tuple[KeptMedia, ...]:
    """The version's audio and video too large for its snapshot (the store's objects)."""
    limit = get_settings().audio_embed_max_bytes
    rows = session.execute(
        select(VersionMedia.role, StoredObject.sha256, StoredObject.mime_type, StoredObject.size)
        .join(StoredObject, StoredObject.sha256 == VersionMedia.sha256)
        .where(
            VersionMedia.version_id == version_id,
            VersionMedia.role.in_(KEPT_ROLES),
            StoredObject.size > limit,
        )
        .order_by(VersionMedia.position)
    )
    found: dict[str, KeptMedia] = {}
    for role, sha, mime, size in rows:
        if sha not in found:
            found[sha] = KeptMedia(role, sha, mime, int(size))
    return tuple(found.values())
