"""Fill an empty database with `--n` flagged posts of one unclassified version each (the mix of
`bench.classify`), fast (multi-row inserts, ids given), for a real `postvault classify --all`:

    .venv/bin/python -m bench.classify_load --n 100000 --database-url URL
    POSTVAULT_DATABASE_URL=URL POSTVAULT_SCHEDULES_DIR=DIR time .venv/bin/postvault classify --all

It also writes the benchmark's classifier configuration to `--schedules-dir` when given.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import insert, text

from app.accounts.models import SocialAccount
from app.auth.models import User
from app.db import Database, utcnow
from app.migrate import upgrade_to_head
from app.posts.models import CapturedVersion, FlaggedPost
from bench.classify import CONFIG_SOURCE, synthetic, version_row
from bench.machine import describe

_PAGE = 5000


def load(url: str, n: int) -> None:
    upgrade_to_head(url)
    db = Database(url)
    data = synthetic(n, seed=11)
    now = utcnow()
    accounts: dict[tuple[str, str], int] = {}
    posts: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    for i, (post, ctx) in enumerate(data, start=1):
        key = (ctx.platform, ctx.account_handle)
        account_id = accounts.setdefault(key, len(accounts) + 1)
        posts.append(
            {
                "id": i,
                "account_id": account_id,
                "flagged_by_id": 1,
                "url": post.url,
                "platform": post.platform,
                "external_id": post.post_id,
                "flagged_at": now,
            }
        )
        versions.append({"id": i, **version_row(post, i)})
    with db.session() as session:
        session.execute(
            insert(User),
            [{"id": 1, "email": "bench@city.example", "name": "Bench", "role": "employee"}],
        )
        session.execute(
            insert(SocialAccount),
            [
                {"id": i, "owner_id": 1, "platform": p, "handle": h, "profile_url": "https://x"}
                for (p, h), i in accounts.items()
            ],
        )
        for table, rows in ((FlaggedPost, posts), (CapturedVersion, versions)):
            for start in range(0, len(rows), _PAGE):
                session.execute(insert(table), rows[start : start + _PAGE])
        if db.engine.dialect.name == "postgresql":
            for name in ("users", "social_accounts", "flagged_posts", "captured_versions"):
                session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), max(id)) FROM {name}"
                    )
                )
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--database-url", required=True, help="an empty database")
    parser.add_argument("--schedules-dir", type=Path, default=None)
    args = parser.parse_args()
    print(describe())
    started = time.perf_counter()
    load(args.database_url, args.n)
    print(f"{args.n} versions loaded in {time.perf_counter() - started:.1f} s")
    if args.schedules_dir:
        args.schedules_dir.mkdir(parents=True, exist_ok=True)
        (args.schedules_dir / "classification.yaml").write_text(yaml.safe_dump(CONFIG_SOURCE))


if __name__ == "__main__":
    main()
