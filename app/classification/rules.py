"""The classification rules: pure functions over one normalised capture, no database.

`classify(post, context, config, index)` decides whether one captured version of a flagged post
is a **record**, a **secondary copy** of a record the city already keeps, or (only by a records
officer's override) **transitory**. Every decision carries a stable rule id, sentences a court
can read that name what was matched (account, domain, URL, archived capture), the primary copy
for secondary copies, a confidence and whether a person should look at it.

Rule order (the first rule that decides wins; when in doubt, record):

1. ``repost_of_official_account`` - a repost/boost/reblog (or a quote with nothing added) of a
   post by an account listed in ``official_accounts`` for the platform → secondary copy of that
   post. The same of any other account → record (``repost_of_other_account``): only the city's
   own posts are records the city already keeps.
2. ``quote_with_comment`` - a quote post, or a reshare with the employee's own text or media
   → record: a copy that differs in a meaningful way is not identical.
3. ``reply_in_conversation`` - the post answers another post → record: it is correspondence,
   even when all it says is a link to a city page.
4. ``link_only_to_publication`` - the content is only links to ``publication_domains``
   (subdomains count; the link card and the links in the text are both checked) plus at most a
   short lead-in (``lead_in_max_words`` / ``lead_in_max_chars``, hashtags and mentions not
   counted) → secondary copy of the first publication. A longer comment, own media or a link
   elsewhere → record (``link_with_comment``), but only after rules 5 and 6 found no copy.
5. ``cross_post_duplicate`` - the same text (after normalising case, whitespace, links, hashtags,
   mentions and punctuation; at least ``cross_post_min_chars`` long) was archived earlier from
   another platform or another account → secondary copy of the earliest such capture. Media is
   not compared: platforms re-encode images, so hashes differ between cross-posts.
6. ``near_duplicate_review`` - a different text whose word-pair Jaccard similarity with an
   earlier capture reaches ``near_duplicate_threshold`` (or identical text from the same
   account) → stays a record, proposed for review with the candidates listed.
7. ``default_record`` - nothing above matched → record.

Then replies received: the decision covers the flagged post; the replies in the capture are
records received by the city and are kept with the post under its label. So when a post with
replies would be a secondary copy it is kept as a record instead (``reply_received``), and a
post that is a record only by default is a record because of its replies (``reply_received``).
Other record rules keep their id and gain a sentence about the replies.

Candidates for rules 5 and 6 come from a `CrossPostIndex`: exact lookups by the hash of the
normalised text, and MinHash LSH band keys for near duplicates, so a decision never scans the
archive. `InMemoryCrossPostIndex` is the pure implementation (tests, benchmark baseline); the
service has the database-backed one over the ``content_fingerprints`` tables.
"""

from __future__ import annotations

import hashlib
import random
import re
import struct
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from app.classification.config import (
    ClassifierConfig,
)
from app.classification.crosspost_index import CrossPostIndex, Fingerprint, IndexedCapture
from app.classification.models import Label
from app.platforms.collected import Author, CollectedPost, EmbeddedPost
from app.platforms.registry import PHRASE_NAMES as PLATFORM_NAMES
from app.platforms.registry import registry

# Bump when a rule, a reason's meaning or the fingerprint algorithm changes: stored decisions
# name the version that made them.
CLASSIFIER_VERSION = "1.0.0"
FINGERPRINT_ALGORITHM = "wp2-mh30x3"  # word pairs, 30 MinHash values in 10 bands of 3

# Media an employee attaches (adds content); thumbnails, avatars and link previews do not.
OWN_MEDIA_ROLES = frozenset({"image", "video", "audio", "gifv", "other"})
MAX_CANDIDATES = 20


class RuleId:
    repost_of_official_account = "repost_of_official_account"
    repost_of_other_account = "repost_of_other_account"
    quote_with_comment = "quote_with_comment"
    reply_in_conversation = "reply_in_conversation"
    link_only_to_publication = "link_only_to_publication"
    link_with_comment = "link_with_comment"
    cross_post_duplicate = "cross_post_duplicate"
    near_duplicate_review = "near_duplicate_review"
    default_record = "default_record"
    reply_received = "reply_received"
    # Set by the service, not by classify():
    primary_unverified = "primary_unverified"
    carried_forward = "carried_forward"
    officer_override = "officer_override"


@dataclass(frozen=True)
class Decision:
    label: Label
    rule_id: str
    reasons: tuple[str, ...]
    primary_ref: str | None = None  # the primary copy's URL (secondary copies)
    primary_version_id: int | None = None  # the archived primary capture, when there is one
    confidence: float = 0.9
    needs_review: bool = False
    review_details: dict[str, Any] | None = None


@dataclass(frozen=True)
class PostContext:
    """Who posted it and where: the flagged post's own platform and registered account."""

    platform: str
    account_handle: str
    post_id: int | None = None  # the flagged post (its other versions are never cross-posts)
    version_id: int | None = None  # only captures archived before this one are primaries
    url: str | None = None


# --- normalisation and fingerprints ---------------------------------------------------------

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# Bluesky shows links as shortened text ("city.example/news/budg..."); a bare host with a
# letters-only top-level label is a link too. "e.g." is not (one-letter label).
_BARE_LINK = re.compile(r"\b(?:[a-z0-9-]+\.)+[a-z]{2,}(?:/\S*)?", re.IGNORECASE)
_HASHTAG = re.compile(r"(?<!\w)#\w+")
_MENTION = re.compile(r"(?<!\w)@[\w.-]+(?:@[\w.-]+)?")
_WHITESPACE = re.compile(r"\s+")
# Punctuation, symbols, emoji, underscores and whitespace runs become one space.
_NOT_WORD = re.compile(r"[\W_]+")


def _strip_links_tags(text: str) -> str:
    text = _URL.sub(" ", text)
    text = _BARE_LINK.sub(" ", text)
    text = _HASHTAG.sub(" ", text)
    return _MENTION.sub(" ", text)


def normalise_text(text: str) -> str:
    """What cross-posts share: case, whitespace, links, hashtags, mentions and punctuation
    (and emoji) removed, Unicode compatibility forms folded."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _strip_links_tags(text)
    return _NOT_WORD.sub(" ", text).strip()


def content_text(post: CollectedPost) -> str:
    """The text a post says in its own words: the body, or the title when there is none."""
    return post.text if post.text.strip() else (post.title or "")


_rng = random.Random(20261125)
_MASKS = tuple(_rng.getrandbits(64) for _ in range(30))
_BANDS = 10
_ROWS = 3
_MASK64 = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15


@lru_cache(maxsize=1 << 16)
def _word_hash(word: str) -> int:
    # blake2b, not hash(): band keys are stored and must be equal in every process.
    return int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "big")


def shingles(normalised: str) -> frozenset[int]:
    """Word pairs of a normalised text, hashed (a single word when there is only one)."""
    hashes = [_word_hash(w) for w in normalised.split()]
    if len(hashes) < 2:
        return frozenset(hashes)
    return frozenset(
        ((a * _GOLDEN) ^ b) & _MASK64 for a, b in zip(hashes, hashes[1:], strict=False)
    )


def band_keys(shingle_set: frozenset[int]) -> tuple[str, ...]:
    """MinHash LSH: texts sharing any band key are candidates. With 10 bands of 3, a pair with
    Jaccard 0.8 shares a band 99.9% of the time, 0.7 98%, 0.5 74%."""
    if not shingle_set:
        return ()
    signature = [min(map(mask.__xor__, shingle_set)) for mask in _MASKS]
    keys = []
    for band in range(_BANDS):
        rows = signature[band * _ROWS : (band + 1) * _ROWS]
        digest = hashlib.blake2b(struct.pack(f">{_ROWS}Q", *rows), digest_size=6).hexdigest()
        keys.append(f"{band:02d}:{digest}")
    return tuple(keys)


def jaccard(a: frozenset[int], b: frozenset[int]) -> float:
    if not a and not b:
        return 0.0
    return len(a & b) / len(a | b)


def fingerprint(post: CollectedPost) -> Fingerprint:
    normalised = normalise_text(content_text(post))
    shingle_set = shingles(normalised)
    exact = hashlib.sha256(normalised.encode("utf-8")).hexdigest() if normalised else None
    return Fingerprint(normalised, exact, band_keys(shingle_set), shingle_set)


# --- helpers for reasons --------------------------------------------------------------------


def _platform_name(platform: str) -> str:
    return PLATFORM_NAMES.get(platform, platform)


def _is_video_platform(platform: str) -> bool:
    return platform in registry and registry.get(platform).video_platform


def _author_ids(author: Author, platform: str) -> list[str]:
    """Every identifier by which an author could be listed in official_accounts (each
    platform says how its handles are written: app/platforms/<id>/)."""
    if platform not in registry:
        return []
    return registry.get(platform).author_ids(author)


def official_account(author: Author, platform: str, config: ClassifierConfig) -> str | None:
    """The configured official account this author is, or None."""
    official = config.official_sets.get(platform, frozenset())
    for identifier in _author_ids(author, platform):
        if identifier in official:
            return identifier
    return None


def _host(url: str) -> str | None:
    parts = urlsplit(url if "://" in url else f"//{url}")
    try:
        host = parts.hostname
    except ValueError:
        return None
    return host.rstrip(".").lower() if host else None


def publication_domain(url: str, config: ClassifierConfig) -> str | None:
    """The configured publication domain a URL's host is, or is a subdomain of."""
    host = _host(url)
    if not host:
        return None
    for domain in config.publication_domain_set:
        if host == domain or host.endswith("." + domain):
            return domain
    return None


def _links(post: CollectedPost) -> list[str]:
    seen: list[str] = []
    for url in [*post.links, *([post.link_card.url] if post.link_card else [])]:
        if url and url not in seen:
            seen.append(url)
    return seen


def _own_media(post: CollectedPost) -> list[str]:
    return [m.url for m in post.media if m.role in OWN_MEDIA_ROLES]


def _lead_in(post: CollectedPost) -> str:
    text = " ".join(t for t in (post.title or "", post.text) if t.strip())
    text = _strip_links_tags(text).replace("\u2026", " ")
    words = [w for w in text.split() if any(ch.isalnum() for ch in w)]
    return " ".join(words)


def _quote(text: str, limit: int = 80) -> str:
    text = _WHITESPACE.sub(" ", text).strip()
    return f"“{text if len(text) <= limit else text[: limit - 1] + '…'}”"


def _embedded_desc(embedded: EmbeddedPost) -> str:
    return f"{embedded.url} by {embedded.author.handle}"


def _names(items: Sequence[str], limit: int = 3) -> str:
    shown = list(dict.fromkeys(items))
    if len(shown) <= limit:
        return ", ".join(shown)
    return ", ".join(shown[:limit]) + f" and {len(shown) - limit} more"


# --- the rules ------------------------------------------------------------------------------


def rule_repost(post: CollectedPost, ctx: PostContext, config: ClassifierConfig) -> Decision | None:
    embedded = post.repost_of
    kind = "repost"
    if embedded is None and post.quote_of is not None and not _adds_content(post):
        embedded, kind = post.quote_of, "quote with nothing added"
    if embedded is None or _adds_content(post):
        return None
    platform = _platform_name(ctx.platform)
    matched = official_account(embedded.author, ctx.platform, config)
    if matched is None:
        return Decision(
            Label.record,
            RuleId.repost_of_other_account,
            (
                f"This {kind} shares {_embedded_desc(embedded)}, which is not one of the city's "
                f"official {platform} accounts (official_accounts.{ctx.platform}).",
                "Only the city's own posts are records the city already keeps, so sharing "
                "another account's post on public business is kept as a record.",
            ),
            confidence=0.9,
        )
    return Decision(
        Label.secondary_copy,
        RuleId.repost_of_official_account,
        (
            f"This {kind} shares {_embedded_desc(embedded)}; {matched} is an official city "
            f"{platform} account (official_accounts.{ctx.platform}).",
            "It adds no text or media of its own, so it is an identical copy: the city keeps "
            f"the original post ({embedded.url}) as the record, and this is a secondary copy of it.",
        ),
        primary_ref=embedded.url,
        confidence=0.95,
    )


def _adds_content(post: CollectedPost) -> bool:
    return bool(post.text.strip()) or bool(_own_media(post))


def rule_quote(post: CollectedPost, ctx: PostContext, config: ClassifierConfig) -> Decision | None:
    embedded = post.quote_of or post.repost_of
    if embedded is None or not _adds_content(post):
        return None
    added = []
    if post.text.strip():
        added.append(f"the comment {_quote(post.text)}")
    if media := _own_media(post):
        added.append(f"{len(media)} media file(s)")
    matched = official_account(embedded.author, ctx.platform, config)
    whose = (
        f"the official city account {matched}"
        if matched
        else f"the account {embedded.author.handle}"
    )
    return Decision(
        Label.record,
        RuleId.quote_with_comment,
        (
            f"This post quotes {embedded.url} by {whose} and adds {' and '.join(added)}.",
            "A copy that differs in a meaningful way is not an identical copy, so the post is "
            "a record of its own.",
        ),
        confidence=0.95,
    )


def rule_reply(
    post: CollectedPost, _ctx: PostContext, _config: ClassifierConfig
) -> Decision | None:
    if not post.reply_to:
        return None
    return Decision(
        Label.record,
        RuleId.reply_in_conversation,
        (
            f"This post answers {post.reply_to}: it is correspondence in a conversation, "
            "which is a record even when it only points to a city page.",
        ),
        confidence=0.9,
    )


def rule_link(post: CollectedPost, _ctx: PostContext, config: ClassifierConfig) -> Decision | None:
    links = _links(post)
    matched = [(url, d) for url in links if (d := publication_domain(url, config))]
    if not matched:
        return None
    first_url, first_domain = matched[0]
    others = [url for url in links if not publication_domain(url, config)]
    lead_in = _lead_in(post)
    words = len(lead_in.split())
    t = config.thresholds
    publication = (
        f"{first_url}, on the city publication domain {first_domain} (publication_domains)"
    )
    if others:
        return Decision(
            Label.record,
            RuleId.link_with_comment,
            (
                f"This post links to {publication}, but also to {_names(others)}, which is not "
                "on a city publication domain; it is more than a copy of the publication.",
            ),
            confidence=0.85,
        )
    if media := _own_media(post):
        return Decision(
            Label.record,
            RuleId.link_with_comment,
            (
                f"This post links to {publication}, but adds {len(media)} media file(s) of its "
                "own; a copy that differs in a meaningful way is not an identical copy.",
            ),
            confidence=0.85,
        )
    if words > t.lead_in_max_words or len(lead_in) > t.lead_in_max_chars:
        return Decision(
            Label.record,
            RuleId.link_with_comment,
            (
                f"This post links to {publication}, and adds a comment of {words} words / "
                f"{len(lead_in)} characters {_quote(lead_in)}, more than a lead-in "
                f"(limit {t.lead_in_max_words} words, {t.lead_in_max_chars} characters).",
                "A copy with the employee's own comment is not an identical copy, so it is a record.",
            ),
            confidence=0.85,
        )
    said = (
        f"with the lead-in {_quote(lead_in)} ({words} word{'' if words == 1 else 's'})"
        if lead_in
        else "with no text"
    )
    # A lead-in near the limit may be a comment after all: ask a person.
    confidence = 0.7 if words * 2 > t.lead_in_max_words else 0.9
    reasons = [
        f"This post only links to {publication}, {said} "
        f"(limit {t.lead_in_max_words} words, {t.lead_in_max_chars} characters).",
        f"The city keeps the publication at {first_url} as the record; this post is a "
        "secondary copy of it.",
    ]
    if len(matched) > 1:
        reasons.append(f"It also links to {_names([u for u, _d in matched[1:]])} on city domains.")
    return Decision(
        Label.secondary_copy,
        RuleId.link_only_to_publication,
        tuple(reasons),
        primary_ref=first_url,
        confidence=confidence,
    )


def rule_duplicates(
    post: CollectedPost,
    ctx: PostContext,
    config: ClassifierConfig,
    index: CrossPostIndex,
    print_: Fingerprint | None = None,
) -> Decision | None:
    if _is_video_platform(ctx.platform) or any(m.role == "video" for m in post.media):
        return None  # a video is its own content, whatever its description repeats
    print_ = print_ or fingerprint(post)
    t = config.thresholds
    if print_.exact_hash is None or len(print_.normalized_text) < t.cross_post_min_chars:
        return None
    own_account = (ctx.platform, ctx.account_handle.lower())
    same_account_match: IndexedCapture | None = None
    for match in index.exact_matches(
        print_.exact_hash,
        exclude_post_id=ctx.post_id,
        before_version_id=ctx.version_id,
        limit=MAX_CANDIDATES,
    ):
        if match.normalized_text != print_.normalized_text:
            continue  # a hash collision is not a copy
        if (match.platform, match.account_handle.lower()) == own_account:
            same_account_match = same_account_match or match
            continue
        where = (
            f"from {_platform_name(match.platform)} account {match.account_handle}"
            if match.platform != ctx.platform
            else f"from another {_platform_name(match.platform)} account, {match.account_handle}"
        )
        return Decision(
            Label.secondary_copy,
            RuleId.cross_post_duplicate,
            (
                f"The same text {_quote(print_.normalized_text)} was archived earlier {where}: "
                f"{match.url} (archived version {match.version_id}).",
                "The texts are identical once case, whitespace, links, hashtags, mentions and "
                "punctuation are set aside, so this post is a cross-posted copy; the earlier "
                "capture is the primary copy.",
            ),
            primary_ref=match.url,
            primary_version_id=match.version_id,
            confidence=0.95,
        )
    candidates: list[dict[str, Any]] = []
    if same_account_match is not None:
        candidates.append(_candidate(same_account_match, 1.0))
    for match in index.near_candidates(
        print_.band_keys,
        exclude_post_id=ctx.post_id,
        before_version_id=ctx.version_id,
        limit=MAX_CANDIDATES,
    ):
        if same_account_match is not None and match.version_id == same_account_match.version_id:
            continue
        similarity = jaccard(print_.shingles, shingles(match.normalized_text))
        if similarity >= t.near_duplicate_threshold:
            candidates.append(_candidate(match, similarity))
    if not candidates:
        return None
    candidates.sort(key=lambda c: (-c["similarity"], c["version_id"]))
    best = candidates[0]
    if same_account_match is not None and best["version_id"] == same_account_match.version_id:
        first = (
            f"The same account ({best['account_handle']}) published the same text earlier: "
            f"{best['url']} (archived version {best['version_id']})."
        )
    else:
        first = (
            f"The text is similar to an earlier capture from {_platform_name(best['platform'])} "
            f"account {best['account_handle']}: {best['url']} (archived version "
            f"{best['version_id']}), word-pair similarity {best['similarity']:.2f} "
            f"(threshold {t.near_duplicate_threshold:.2f})."
        )
    return Decision(
        Label.record,
        RuleId.near_duplicate_review,
        (
            first,
            "It may be a copy, but near duplicates are not decided automatically: it is kept "
            "as a record and proposed to a records officer for review.",
        ),
        confidence=0.5,
        needs_review=True,
        review_details={"near_duplicates": candidates},
    )


def _candidate(match: IndexedCapture, similarity: float) -> dict[str, Any]:
    return {
        "version_id": match.version_id,
        "post_id": match.post_id,
        "platform": match.platform,
        "account_handle": match.account_handle,
        "url": match.url,
        "similarity": round(similarity, 4),
    }


def rule_default(post: CollectedPost, ctx: PostContext, config: ClassifierConfig) -> Decision:
    platform = _platform_name(ctx.platform)
    what = registry.get(ctx.platform).post_noun if ctx.platform in registry else "post"
    reasons = [
        f"This {platform} {what} by {ctx.account_handle} is the employee's own content: it is not "
        "a repost of an official city account, not only a link to a city publication and not "
        "a copy of an archived capture, so it is a record."
    ]
    links = _links(post)
    if links:
        reasons.append(
            f"Its links ({_names(links)}) are not on a city publication domain "
            f"({_names(sorted(config.publication_domain_set)) or 'none configured'})."
        )
    if post.title:
        reasons.append(f"Title: {_quote(post.title)}.")
    return Decision(Label.record, RuleId.default_record, tuple(reasons), confidence=0.9)


def _with_replies(decision: Decision, post: CollectedPost) -> Decision:
    if not post.replies:
        return decision
    authors = [r.author.handle for r in post.replies]
    replies = (
        f"It received {len(post.replies)} "
        f"{'reply' if len(post.replies) == 1 else 'replies'} (from {_names(authors)}); replies "
        "received are records received by the city and are kept with this post under its label."
    )
    if decision.label is Label.record and decision.rule_id != RuleId.default_record:
        return Decision(
            decision.label,
            decision.rule_id,
            (*decision.reasons, replies),
            decision.primary_ref,
            decision.primary_version_id,
            decision.confidence,
            decision.needs_review,
            decision.review_details,
        )
    if decision.label is Label.record:
        reasons = (*decision.reasons, replies)
    else:
        reasons = (
            f"On its content alone it would be a secondary copy ({decision.rule_id}):",
            *decision.reasons,
            replies,
            "Because the capture holds those records received, the post is kept as a record, "
            "not as a secondary copy.",
        )
    return Decision(Label.record, RuleId.reply_received, reasons, confidence=0.95)


def classify(
    post: CollectedPost,
    ctx: PostContext,
    config: ClassifierConfig,
    index: CrossPostIndex,
    print_: Fingerprint | None = None,
) -> Decision:
    """Apply the rules in the order of the module docstring; the first that decides wins."""
    decision = (
        rule_repost(post, ctx, config)
        or rule_quote(post, ctx, config)
        or rule_reply(post, ctx, config)
    )
    if decision is None:
        link = rule_link(post, ctx, config)
        if link is not None and link.label is Label.secondary_copy:
            decision = link
        else:
            # A link post with a comment may still be a cross-post of an archived capture.
            decision = (
                rule_duplicates(post, ctx, config, index, print_)
                or link
                or rule_default(post, ctx, config)
            )
    decision = _with_replies(decision, post)
    if (
        not decision.needs_review
        and decision.confidence < config.thresholds.review_below_confidence
    ):
        decision = Decision(
            decision.label,
            decision.rule_id,
            (
                *decision.reasons,
                f"Confidence {decision.confidence:.2f} is below "
                f"{config.thresholds.review_below_confidence:.2f}: proposed for review.",
            ),
            decision.primary_ref,
            decision.primary_version_id,
            decision.confidence,
            True,
            decision.review_details,
        )
    return decision
