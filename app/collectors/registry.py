"""Which collector captures which platform: each platform builds its own (app/platforms/<id>/),
listed once in app/platforms/registry.py; this module hands them the shared Fetcher."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from app.config import Settings
from app.platforms.collected import Collector
from app.platforms.fetcher import Fetcher
from app.platforms.ratelimit import HostLimiter
from app.platforms.registry import registry


class UnknownPlatform(ValueError):
    def __init__(self, platform: str) -> None:
        super().__init__(
            f"no collector for platform '{platform}' (known: {', '.join(sorted(COLLECTORS))})"
        )
        self.platform = platform


class _Collectors(Mapping[str, object]):
    """The platform ids that have a collector (a live view of the registry)."""

    def __getitem__(self, platform: str) -> object:
        if platform not in registry:
            raise KeyError(platform)
        return registry.get(platform)

    def __iter__(self) -> Iterator[str]:
        return iter(registry.ids())

    def __len__(self) -> int:
        return len(registry.ids())


COLLECTORS: Mapping[str, object] = _Collectors()


def collector_for(
    platform: str, settings: Settings, *, limiter: HostLimiter | None = None
) -> Collector:
    """The collector for `platform`, sharing the process-wide host limiter unless given one."""
    if platform not in registry:
        raise UnknownPlatform(platform)
    return registry.get(platform).collector(
        settings, Fetcher.from_settings(settings, limiter=limiter)
    )
