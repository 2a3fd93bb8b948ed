"""The classifier's configuration: official accounts, publication domains, thresholds.

It lives in `retention_schedules/classification.yaml`, beside the retention schedules (whose
loader skips this one file by name). It is validated at start-up: any mistake stops PostVault
with one line naming the file and the field, e.g.
`retention_schedules/classification.yaml: official_accounts.mastodon[1]: ...`.

Identifiers are normalised when loaded (lower case, no leading `@` where the platform ignores
case), so matching in the rules is a set lookup and the configuration hash does not change when
someone only reorders or re-cases a list.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from app.config import PROJECT_ROOT
from app.errors import DomainError
from app.platforms.bluesky.urls import normalise_bluesky
from app.platforms.feed.urls import normalise_feed
from app.platforms.mastodon.urls import normalise_mastodon
from app.platforms.registry import registry
from app.platforms.youtube.urls import normalise_youtube

CONFIG_FILE_NAME = "classification.yaml"


class ConfigError(DomainError):
    """The classifier configuration cannot be used; the message names the file and field."""

    status_code = 500


_HOSTNAME = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_BLUESKY_HANDLE = re.compile(r"^(?:did:[a-z0-9]+:[a-z0-9._:%-]+|(?:[a-z0-9-]+\.)+[a-z0-9-]+)$")
_MASTODON_HANDLE = re.compile(r"^[a-z0-9_]+(?:[a-z0-9_.-]*[a-z0-9_])?@(?:[a-z0-9-]+\.)*[a-z0-9-]+$")
_YOUTUBE_CHANNEL_ID = re.compile(r"^UC[A-Za-z0-9_-]{22}$")
_YOUTUBE_HANDLE = re.compile(r"^@[a-z0-9._-]{3,30}$")


def _no_blank(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be blank")
    if any(c.isspace() for c in value):
        raise ValueError(f"{value!r} contains whitespace")
    return value


def _bluesky(value: str) -> str:
    value = normalise_bluesky(_no_blank(value))
    if not _BLUESKY_HANDLE.match(value):
        raise ValueError(
            f"{value!r} is not a Bluesky handle (name.bsky.social) or DID (did:plc:...)"
        )
    return value


def _mastodon(value: str) -> str:
    value = normalise_mastodon(_no_blank(value))
    if not _MASTODON_HANDLE.match(value):
        raise ValueError(
            f"{value!r} is not a Mastodon account: write it as user@instance "
            "(e.g. cityofexample@mastodon.social)"
        )
    return value


def _youtube(value: str) -> str:
    value = normalise_youtube(_no_blank(value))
    if not (_YOUTUBE_CHANNEL_ID.match(value) or _YOUTUBE_HANDLE.match(value)):
        raise ValueError(
            f"{value!r} is not a YouTube channel: write a @handle or a channel id (UC + 22 characters)"
        )
    return value


def _feed(value: str) -> str:
    value = _no_blank(value)
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not a feed URL (https://...)")
    return normalise_feed(value)


def _domain(value: str) -> str:
    value = _no_blank(value).lower().rstrip(".")
    if "://" in value or "/" in value:
        raise ValueError(
            f"{value!r} is not a bare domain name: write only the host, e.g. city.example "
            "(subdomains are included)"
        )
    if not _HOSTNAME.match(value):
        raise ValueError(
            f"{value!r} is not a domain name (write internationalised names in punycode)"
        )
    return value


def _x(value: str) -> str:
    from app.platforms.x.urls import normalise_official

    try:
        return normalise_official(_no_blank(value))
    except Exception as exc:  # the platform's Invalid is not a ValueError
        raise ValueError(str(exc)) from None


def _tumblr(value: str) -> str:
    from app.platforms.tumblr.urls import normalise_official as normalise_tumblr

    try:
        return normalise_tumblr(_no_blank(value))
    except Exception as exc:  # the platform's Invalid is not a ValueError
        raise ValueError(str(exc)) from None


BlueskyAccount = Annotated[str, AfterValidator(_bluesky)]
MastodonAccount = Annotated[str, AfterValidator(_mastodon)]
YouTubeAccount = Annotated[str, AfterValidator(_youtube)]
FeedAccount = Annotated[str, AfterValidator(_feed)]
XAccount = Annotated[str, AfterValidator(_x)]
TumblrAccount = Annotated[str, AfterValidator(_tumblr)]
PublicationDomain = Annotated[str, AfterValidator(_domain)]


class OfficialAccounts(BaseModel):
    """The city's official accounts per platform: their posts are the city's own records."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bluesky: list[BlueskyAccount] = Field(default_factory=list)
    mastodon: list[MastodonAccount] = Field(default_factory=list)
    feed: list[FeedAccount] = Field(default_factory=list)
    youtube: list[YouTubeAccount] = Field(default_factory=list)
    x: list[XAccount] = Field(default_factory=list)  # user names or numeric user ids
    tumblr: list[TumblrAccount] = Field(default_factory=list)  # blog names or uuids (t:…)

    def for_platform(self, platform: str) -> frozenset[str]:
        accounts: list[str] = getattr(self, platform, None) or []
        return frozenset(accounts)


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # A link post stays a copy only while the words around the link are a short lead-in
    # ("New report:"), not a comment of the employee's own.
    lead_in_max_words: int = Field(default=12, ge=0, le=200)
    lead_in_max_chars: int = Field(default=120, ge=0, le=2000)
    # Jaccard similarity of word pairs from which two different texts are proposed for review;
    # below 0.5 the LSH bands would miss too many candidates.
    near_duplicate_threshold: float = Field(default=0.8, ge=0.5, le=1.0)
    # Short texts ("Thank you!") match by chance; they are never called cross-posts.
    cross_post_min_chars: int = Field(default=40, ge=1, le=10_000)
    # Decisions less sure than this go to the review queue.
    review_below_confidence: float = Field(default=0.75, ge=0.0, le=1.0)


class ClassifierConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    official_accounts: OfficialAccounts = Field(default_factory=OfficialAccounts)
    publication_domains: list[PublicationDomain] = Field(default_factory=list)
    thresholds: Thresholds = Field(default_factory=Thresholds)

    @cached_property
    def official_sets(self) -> dict[str, frozenset[str]]:
        return {
            platform: self.official_accounts.for_platform(platform) for platform in registry.ids()
        }

    @cached_property
    def publication_domain_set(self) -> frozenset[str]:
        return frozenset(self.publication_domains)

    @cached_property
    def config_hash(self) -> str:
        """SHA-256 of the canonical configuration: sorted keys and sorted, de-duplicated lists,
        so a decision can be traced to the exact rules it was made under."""
        return hashlib.sha256(canonical_json(self).encode("utf-8")).hexdigest()


def canonical_json(config: ClassifierConfig) -> str:
    data: dict[str, Any] = config.model_dump(mode="json")
    data["official_accounts"] = {
        platform: sorted(set(accounts)) for platform, accounts in data["official_accounts"].items()
    }
    data["publication_domains"] = sorted(set(data["publication_domains"]))
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def parse_classifier_config(data: object, *, source: str) -> ClassifierConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the file must hold a mapping (official_accounts: ...)")
    try:
        return ClassifierConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["type"] == "extra_forbidden":
            message = (
                "unknown field (check the spelling; platforms are bluesky, mastodon, feed, youtube)"
            )
        raise ConfigError(f"{source}: {_field_path(tuple(first['loc']))}: {message}") from None


def load_classifier_config(path: Path) -> ClassifierConfig:
    """Read and validate the YAML file; any problem is a ConfigError naming file and field."""
    source = _shown(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{source}: file not found (the classifier needs it)") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot be read: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{source}: not valid YAML{where}") from None
    return parse_classifier_config(data, source=source)
