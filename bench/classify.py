"""Decisions per second of the classifier, the cross-post check included.

    .venv/bin/python -m bench.classify [--n 100000] [--db-n 3000] [--one-by-one 300]
                                       [--database-url URL]

1. Pure rules with the in-memory index over `--n` synthetic captures (each is classified
   against everything before it, then added to the index, as the archive grows).
2. The database path over `--db-n` versions, on SQLite (a temporary file) and, with
   `--database-url`, on that (empty) database too, e.g. PostgreSQL: `reclassify_all`, what
   `postvault classify --all` runs (batches of 500: fingerprint rows, cross-post lookups per
   batch, decision rows and audit events), first over unclassified versions (every decision
   is written) and then again with nothing changed; and `classify_version`, the one-version
   path of the capture pipeline, over the first `--one-by-one` versions of another copy.
   The query plans printed show the lookups use indexes, never a scan.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import delete, text
from sqlalchemy.orm import Session

from app.accounts.models import SocialAccount
from app.audit.service import Actor
from app.auth.models import User
from app.classification.config import ClassifierConfig, parse_classifier_config
from app.classification.crosspost_index import IndexedCapture, InMemoryCrossPostIndex
from app.classification.models import Classification
from app.classification.reclassify import reclassify_all
from app.classification.rules import PostContext, classify, fingerprint
from app.classification.service import classify_version
from app.db import Database
from app.migrate import upgrade_to_head
from app.platforms.collected import Author, CollectedPost, EmbeddedPost, LinkCard
from app.posts.models import CapturedVersion, FlaggedPost
from bench.machine import describe

CONFIG_SOURCE = {
    "official_accounts": {
        "bluesky": ["city.bsky.social"],
        "mastodon": ["city@mastodon.example"],
    },
    "publication_domains": ["city.example"],
}
CONFIG: ClassifierConfig = parse_classifier_config(CONFIG_SOURCE, source="bench")
WORDS = (
    "road closure main street weekend crews repave detour park library hours council meeting "
    "budget hearing snow emergency parking leaf collection recycling water main break bus route "
    "permit zoning trees volunteers cleanup playground police fire station vote agenda public "
    "comment notice residents district river bridge sidewalk repair tax assessment election"
).split()


def synthetic(n: int, seed: int = 7) -> list[tuple[CollectedPost, PostContext]]:
    """A mix like a city archive: own posts, boosts, link posts, cross-posts, near copies."""
    rng = random.Random(seed)
    out: list[tuple[CollectedPost, PostContext]] = []
    texts: list[str] = []
    for i in range(n):
        platform = rng.choice(["bluesky", "mastodon", "mastodon", "feed", "youtube"])
        handle = f"emp{rng.randrange(500)}"
        roll = rng.random()
        post = CollectedPost(
            platform=platform,
            post_id=str(i),
            url=f"https://{platform}.example/{handle}/{i}",
            author=Author(handle=handle),
        )
        if roll < 0.10 and platform in ("bluesky", "mastodon"):
            official = "city.bsky.social" if platform == "bluesky" else "city@mastodon.example"
            post.repost_of = EmbeddedPost(
                url=f"https://{platform}.example/city/{i}", author=Author(handle=official)
            )
        elif roll < 0.20:
            post.text = "New notice: https://city.example/notices/" + str(i)
            post.links = ["https://city.example/notices/" + str(i)]
            post.link_card = LinkCard(url=post.links[0])
        elif roll < 0.30 and texts:
            post.text = rng.choice(texts).upper() + " #crosspost https://t.example/x"
        elif roll < 0.35 and texts:
            words = rng.choice(texts).split()
            words[rng.randrange(len(words))] = rng.choice(WORDS)
            post.text = " ".join(words)
        else:
            post.text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40)))
            texts.append(post.text)
        if platform == "youtube":
            post.title = "Video " + str(i)
        out.append(
            (
                post,
                PostContext(platform=platform, account_handle=handle, post_id=i, version_id=i + 1),
            )
        )
    return out


def bench_memory(n: int) -> None:
    data = synthetic(n)
    index = InMemoryCrossPostIndex()
    rules: Counter[str] = Counter()
    started = time.perf_counter()
    for post, ctx in data:
        print_ = fingerprint(post)
        decision = classify(post, ctx, CONFIG, index, print_)
        rules[decision.rule_id] += 1
        assert ctx.post_id is not None
        assert ctx.version_id is not None
        index.add(
            IndexedCapture(
                ctx.version_id,
                ctx.post_id,
                ctx.platform,
                ctx.account_handle,
                post.url,
                print_.normalized_text,
            ),
            print_,
        )
    elapsed = time.perf_counter() - started
    print(
        f"pure rules + in-memory index: {n} decisions in {elapsed:.1f} s = {n / elapsed:,.0f} decisions/s"
    )
    print("  rules: " + ", ".join(f"{k} {v}" for k, v in rules.most_common()))


def _load(db: Database, n: int) -> list[int]:
    """`n` flagged posts with one version each (their accounts and one user), unclassified."""
    data = synthetic(n, seed=11)
    with db.session() as session:
        user = User(email="bench@city.example", name="Bench", role="employee")
        session.add(user)
        session.flush()
        accounts = bench_accounts(session, user.id, data)
        version_ids = []
        for post, ctx in data:
            key = (ctx.platform, ctx.account_handle)
            flagged = FlaggedPost(
                account_id=accounts[key],
                flagged_by_id=user.id,
                url=post.url,
                platform=post.platform,
                external_id=post.post_id,
            )
            session.add(flagged)
            session.flush()
            version = CapturedVersion(**version_row(post, flagged.id))
            session.add(version)
            session.flush()
            version_ids.append(version.id)
    return version_ids


def bench_accounts(
    session: Session, owner_id: int, data: Sequence[Any]
) -> dict[tuple[str, str], int]:
    """One account per (platform, handle) of the synthetic captures: their ids."""
    accounts: dict[tuple[str, str], int] = {}
    for _post, ctx in data:
        key = (ctx.platform, ctx.account_handle)
        if key not in accounts:
            account = SocialAccount(
                owner_id=owner_id, platform=key[0], handle=key[1], profile_url="https://x"
            )
            session.add(account)
            session.flush()
            accounts[key] = account.id
    return accounts


def version_row(post: CollectedPost, post_id: int) -> dict[str, Any]:
    """A first captured version of a synthetic post, as the columns to insert."""
    return {
        "post_id": post_id,
        "number": 1,
        "content_hash": hashlib.sha256(post.url.encode()).hexdigest(),
        "source_sha256": "0" * 64,
        "normalized": post.model_dump(mode="json"),
        "text": post.text,
        "collector": post.platform,
        "collector_version": "bench",
    }


def bench_database(url: str, n: int, one_by_one: int, label: str) -> None:
    upgrade_to_head(url)
    db = Database(url)
    version_ids = _load(db, n)
    actor = Actor.system("bench")
    for run in ("unclassified, every decision written", "again, nothing changed"):
        started, cpu = time.perf_counter(), time.process_time()
        with db.session() as session:
            summary = reclassify_all(session, config=CONFIG, actor=actor, on_label_changed=[])
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        # The CPU time of this process (not the database server's): on a shared, loaded
        # machine the wall time is stretched by the load printed with the machine line.
        print(
            f"{label}: reclassify_all ({run}): {n} decisions in {elapsed:.1f} s = "
            f"{n / elapsed:,.0f} decisions/s; {cpu:.1f} s CPU in this process = "
            f"{n / cpu:,.0f} decisions per CPU second ({summary.rewritten} written; 100,000 "
            f"would take {100_000 / (n / elapsed) / 60:.1f} min)"
        )
    if one_by_one:
        with db.session() as session:  # the same versions, unclassified again
            session.execute(delete(Classification))
        started, cpu = time.perf_counter(), time.process_time()
        with db.session() as session:
            for version_id in version_ids[:one_by_one]:
                classify_version(
                    session, version_id=version_id, config=CONFIG, actor=actor, on_label_changed=[]
                )
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(
            f"{label}: classify_version one by one (the capture path): {one_by_one} decisions "
            f"in {elapsed:.1f} s = {one_by_one / elapsed:,.0f} decisions/s; {cpu:.1f} s CPU in "
            "this process"
        )
    if db.engine.dialect.name == "sqlite":
        with db.engine.connect() as conn:
            for what, sql in (
                (
                    "exact-hash lookup",
                    "SELECT * FROM content_fingerprints WHERE exact_hash IN ('x', 'y')",
                ),
                (
                    "band lookup",
                    "SELECT band_key, fingerprint_id FROM content_fingerprint_bands "
                    "WHERE band_key IN ('00:a','01:b')",
                ),
            ):
                plan = " | ".join(
                    str(row[-1]) for row in conn.execute(text("EXPLAIN QUERY PLAN " + sql))
                )
                print(f"  {what} plan: {plan}")
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=100_000, help="captures for the pure rules")
    parser.add_argument("--db-n", type=int, default=3_000, help="versions for the database path")
    parser.add_argument(
        "--one-by-one", type=int, default=300, help="versions classified one at a time"
    )
    parser.add_argument(
        "--database-url", default=None, help="an empty database to run the database path on too"
    )
    args = parser.parse_args()
    print(describe())
    if args.n:
        bench_memory(args.n)
    if args.db_n:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            bench_database(url, args.db_n, args.one_by_one, "SQLite")
        if args.database_url:
            bench_database(args.database_url, args.db_n, args.one_by_one, "PostgreSQL")
    print(describe())


if __name__ == "__main__":
    main()
