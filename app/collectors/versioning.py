"""What makes a version distinct: a hash over canonical JSON of the normalised content.

Volatile things are left out of the hash, so a poll that finds the same post finds the same
hash: the platform's raw responses (counters, request ids), media URLs (CDNs rotate them; the
media's own SHA-256 is hashed instead), the author's avatar, and request bookkeeping.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from typing import Any

from app.platforms.collected import CollectedPost

_NOT_CONTENT = {"source", "http_requests", "validators", "history"}


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def _strip_volatile(value: Any) -> Any:
    if isinstance(value, dict):
        if "sha256" in value and "role" in value:
            # A MediaRef: its bytes' hash stands for it (the URL only when it was not fetched).
            media = {
                "sha256": value["sha256"],
                "role": value["role"],
                "alt_text": value.get("alt_text"),
            }
            if value["sha256"] is None:
                media["url"] = value.get("url")
            return media
        return {key: _strip_volatile(item) for key, item in value.items() if key != "avatar_url"}
    if isinstance(value, list):
        return [_strip_volatile(v) for v in value]
    return value


def content_fingerprint(post: CollectedPost) -> dict[str, Any]:
    data = post.model_dump(mode="json", exclude=_NOT_CONTENT)
    stripped: dict[str, Any] = _strip_volatile(data)
    return stripped


def content_hash(post: CollectedPost) -> str:
    return hashlib.sha256(canonical_json(content_fingerprint(post))).hexdigest()


def source_bytes(post_source: dict[str, Any]) -> bytes:
    """The platform's responses as canonical JSON: what is archived and hashed as the source."""
    return canonical_json(post_source)


def describe_change(old: CollectedPost | None, new: CollectedPost) -> str:
    """What changed since the previous version, for people: fields named, text diffed."""
    if old is None:
        return "first capture"
    notes: list[str] = []
    if old.text != new.text:
        diff = difflib.unified_diff(
            old.text.splitlines(),
            new.text.splitlines(),
            "previous",
            "this version",
            lineterm="",
            n=1,
        )
        notes.append("text changed:\n" + "\n".join(diff))
    if old.title != new.title:
        notes.append(f"title changed from {old.title!r} to {new.title!r}")
    old_media = [m.sha256 for m in old.media]
    new_media = [m.sha256 for m in new.media]
    if old_media != new_media:
        notes.append(f"media changed ({len(old_media)} before, {len(new_media)} now)")
    if [m.alt_text for m in old.media] != [
        m.alt_text for m in new.media
    ] and old_media == new_media:
        notes.append("media descriptions changed")
    old_replies = {r.id for r in old.replies}
    new_replies = {r.id for r in new.replies}
    if new_replies - old_replies:
        notes.append(
            f"{len(new_replies - old_replies)} new repl{'y' if len(new_replies - old_replies) == 1 else 'ies'}"
        )
    if old_replies - new_replies:
        notes.append(
            f"{len(old_replies - new_replies)} repl{'y' if len(old_replies - new_replies) == 1 else 'ies'} no longer shown"
        )
    changed_replies = [
        r.id for r in new.replies for o in old.replies if o.id == r.id and o.text != r.text
    ]
    if changed_replies:
        notes.append(
            f"{len(changed_replies)} repl{'y' if len(changed_replies) == 1 else 'ies'} edited"
        )
    if old.link_card != new.link_card:
        notes.append("link card changed")
    if old.visibility != new.visibility:
        notes.append(f"visibility changed from {old.visibility} to {new.visibility}")
    if old.edited_at != new.edited_at and not notes:
        notes.append("the platform reports an edit")
    return "\n".join(notes) or "other details changed"
