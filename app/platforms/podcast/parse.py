"""What a podcast feed says beyond a blog feed's entry: the `itunes:` tags and the audio
enclosure. Reads feedparser's result (app/platforms/feed parses the document)."""

from __future__ import annotations

import re
from typing import Any

from app.platforms.collected import MediaRef

_CLOCK = re.compile(r"^(?:(\d+):)?(\d{1,2}):(\d{1,2})(?:\.\d+)?$")
_SECONDS = re.compile(r"^(\d+)(?:\.\d+)?$")
AUDIO_TYPES = ("audio/", "video/")  # video podcasts carry their episode as video/mp4


def duration_seconds(value: Any) -> int | None:
    """`itunes:duration` as seconds: "114", "1:09:50", "09:50"; None when unreadable."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if match := _SECONDS.match(text):
        return int(match.group(1))
    if match := _CLOCK.match(text):
        hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
        if minutes < 60 and seconds < 60:
            return hours * 3600 + minutes * 60 + seconds
    return None


def _int(value: Any) -> int | None:
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def enclosure(entry: Any) -> dict[str, Any] | None:
    """The episode's audio (or video) enclosure: url, type, declared length."""
    for link in entry.get("links") or []:
        kind = str(link.get("type") or "")
        if link.get("rel") == "enclosure" and link.get("href") and kind.startswith(AUDIO_TYPES):
            return {"url": link["href"], "type": kind, "length": _int(link.get("length"))}
    return None


def is_podcast(parsed: Any) -> bool:
    """A feed is a podcast when it uses the itunes: namespace or an entry has an audio
    enclosure."""
    namespaces = {str(uri).lower() for uri in (parsed.get("namespaces") or {}).values()}
    if any("itunes.com/dtds/podcast" in uri for uri in namespaces):
        return True
    return any(enclosure(entry) for entry in parsed.get("entries") or [])


def episode_facts(entry: Any, feed_meta: Any) -> dict[str, Any]:
    """Episode and season numbers, duration, type and the show's facts, as content."""
    facts: dict[str, Any] = {"show_title": feed_meta.get("title")}
    for key, name in (("itunes_episode", "episode"), ("itunes_season", "season")):
        number = _int(entry.get(key))
        if number is not None:
            facts[name] = number
    raw = entry.get("itunes_duration")
    if raw:
        facts["duration"] = str(raw).strip()
        seconds = duration_seconds(raw)
        if seconds is not None:
            facts["duration_seconds"] = seconds
    for key, name in (
        ("itunes_episodetype", "episode_type"),
        ("itunes_title", "episode_title"),
        ("itunes_author", "episode_author"),
        ("subtitle", "subtitle"),
    ):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            facts[name] = value.strip()
    if entry.get("itunes_explicit") is not None:
        facts["explicit"] = bool(entry.get("itunes_explicit"))
    audio = enclosure(entry)
    if audio is not None:
        facts["enclosure"] = {"type": audio["type"], "declared_length": audio["length"]}
    show_author = feed_meta.get("itunes_author") or feed_meta.get("author")
    if show_author:
        facts["show_author"] = show_author
    return facts


def episode_media(entry: Any, found: list[MediaRef]) -> list[MediaRef]:
    """The feed collector's media of the entry, with the episode's artwork (itunes:image)."""
    media = list(found)
    image = entry.get("image")
    href = image.get("href") if isinstance(image, dict) else None
    if isinstance(href, str) and href and all(m.url != href for m in media):
        media.append(MediaRef(url=href, role="image", alt_text="episode artwork"))
    return media
