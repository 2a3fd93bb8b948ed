"""`postvault classify --all` over N versions, the whole command as an operator runs it:
decisions, their rows and audit events, and the label-changed hook (retention assignment of
every relabelled post, audited), on SQLite (a temporary file) or on an empty database.

    .venv/bin/python -m bench.classify_all [--n 100000] [--database-url URL] [--runs 3]

The archive is `--n` flagged posts with one version each (bench.classify's synthetic mix),
loaded in bulk. Run 1 classifies them unclassified (every decision is written and every post
gets its first retention assignment); run 2 again with nothing changed; run 3 after a
configuration change that turns the boosts of the official accounts into records (their
retention is recomputed). Each run prints its wall time and the CPU time of this process (the
database server's is not counted): on a shared, loaded machine the wall time is the CPU time
stretched by the load printed with the machine line.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, insert, select

from app.audit.models import AuditEvent
from app.auth.models import User
from app.classification.models import Classification
from app.db import Database, utcnow
from app.migrate import upgrade_to_head
from app.posts.models import CapturedVersion, FlaggedPost
from app.retention.models import RetentionAssignment
from bench.classify import CONFIG_SOURCE, bench_accounts, synthetic, version_row
from bench.machine import describe

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def load(db: Database, n: int) -> None:
    """`n` flagged posts with one version each, unclassified, in a few bulk INSERTs."""
    data = synthetic(n, seed=11)
    now = utcnow()
    with db.session() as session:
        user = User(email="bench@city.example", name="Bench", role="employee")
        session.add(user)
        session.flush()
        accounts = bench_accounts(session, user.id, data)
        for start in range(0, n, 10_000):
            page = data[start : start + 10_000]
            post_ids = list(
                session.scalars(
                    insert(FlaggedPost).returning(FlaggedPost.id, sort_by_parameter_order=True),
                    [
                        {
                            "account_id": accounts[(ctx.platform, ctx.account_handle)],
                            "flagged_by_id": user.id,
                            "url": post.url,
                            "platform": post.platform,
                            "external_id": post.post_id,
                            "status": "captured",
                            "flagged_at": now,
                        }
                        for post, ctx in page
                    ],
                )
            )
            session.execute(
                insert(CapturedVersion),
                [
                    {**version_row(post, post_id), "captured_at": now}
                    for post_id, (post, _ctx) in zip(post_ids, page, strict=True)
                ],
            )


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def counts(db: Database) -> dict[str, int]:
    with db.session() as session:
        return {
            name: session.scalar(select(func.count()).select_from(model)) or 0
            for name, model in (
                ("decisions", Classification),
                ("assignments", RetentionAssignment),
                ("audit events", AuditEvent),
            )
        }


def run_command(url: str, schedules: Path) -> tuple[float, float, int, str]:
    """(wall seconds, this process's CPU seconds, exit code, output) of the command."""
    from app.cli import main

    out = io.StringIO()
    with environment({"POSTVAULT_DATABASE_URL": url, "POSTVAULT_SCHEDULES_DIR": str(schedules)}):
        started, cpu = time.perf_counter(), time.process_time()
        with contextlib.redirect_stdout(out):
            code = main(["classify", "--all", "--quiet"])
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    return elapsed, cpu, code, out.getvalue()


def write_config(folder: Path, source: dict[str, Any]) -> None:
    (folder / "classification.yaml").write_text(yaml.safe_dump(source), encoding="utf-8")


def bench(url: str, n: int, runs: int, label: str) -> None:
    upgrade_to_head(url)
    db = Database(url)
    started = time.perf_counter()
    load(db, n)
    print(f"{label}: loaded {n:,} versions in {time.perf_counter() - started:.1f} s")
    with tempfile.TemporaryDirectory() as folder:
        schedules = Path(folder)
        for path in (PROJECT_ROOT / "retention_schedules").glob("*.yaml"):
            shutil.copy(path, schedules / path.name)
        write_config(schedules, CONFIG_SOURCE)
        what = [
            "unclassified: every decision and retention assignment written",
            "again, nothing changed",
            "after a configuration change (no official accounts: boosts become records)",
        ]
        for run in range(min(runs, len(what))):
            if run == 2:
                write_config(schedules, {**CONFIG_SOURCE, "official_accounts": {}})
            before = counts(db)
            elapsed, cpu, code, output = run_command(url, schedules)
            after = counts(db)
            written = {k: after[k] - before[k] for k in after}
            first = output.splitlines()[1] if len(output.splitlines()) > 1 else output.strip()
            print(
                f"{label}: classify --all ({what[run]}): {n:,} versions in {elapsed:.1f} s = "
                f"{n / elapsed:,.0f} versions/s; {cpu:.1f} s CPU in this process = "
                f"{n / cpu:,.0f} versions per CPU second (exit {code}; written: "
                + ", ".join(f"{v:,} {k}" for k, v in written.items())
                + f")\n  {first}"
            )
    db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--n", type=int, default=100_000, help="versions in the archive")
    parser.add_argument("--runs", type=int, default=3, help="runs of the command (1-3)")
    parser.add_argument(
        "--database-url", default=None, help="an empty database to run on (default: SQLite)"
    )
    args = parser.parse_args()
    print(describe())
    if args.database_url:
        bench(args.database_url, args.n, args.runs, "PostgreSQL")
    else:
        with tempfile.TemporaryDirectory() as folder:
            url = f"sqlite:///{Path(folder) / 'bench.db'}"
            bench(url, args.n, args.runs, "SQLite")
    print(describe())


if __name__ == "__main__":
    main()
