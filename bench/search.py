"""Search latency over 1,000,000 archived posts, on SQLite and on PostgreSQL.

    python -m bench.search                      # both: a temp SQLite file and a temp PG database
    python -m bench.search --database-url URL   # one empty database (migrated, loaded, kept)
    python -m bench.search --database-url URL --no-load   # query it again, no reload
    python -m bench.search --posts 100000 --queries 50

URL may be a PostgreSQL database or a SQLite file (sqlite:////path/bench.db): load each
backend once, then re-query it with --no-load (loading 1,000,000 posts takes minutes).
Each query line is followed by this process's CPU time per query (on PostgreSQL the
server's share is not in it) and the load average, as the machine is often shared.

What is loaded: users (employees), social accounts, and per post one FlaggedPost, one
CapturedVersion (the columns the schema requires, no JSON) and its `search_index` row, bulk
inserted (executemany on SQLite, COPY on PostgreSQL) instead of going through index_version
one version at a time. The timed query path (an employee and a date filter) reads only the
index tables; the FlaggedPost/CapturedVersion rows are there because the index row's
version_id is a foreign key, and so that filters on live state have rows to look at.

Text: words drawn from a 30,000-word vocabulary with a Zipf distribution (s=1.1, the shape of
real English word frequencies, function words on top), 8 to 45 words a post; one post in five
has one to three replies, one in eight has alt text. Queries: two distinct words drawn by
frequency from ranks 30 to 3,000 (the content words people search for), one random employee
(500 of them, about 2,000 posts each), and a 90-day window over 5.5 years of posts. Each query
is the whole service call: parse, count, ranked page of 20, snippets.

Two queries are timed on each backend: the selective one above (two words + employee + 90
days) and the broad one (two frequent words + 90 days, no employee): two distinct words drawn
uniformly from the content-word ranks 38-300, each found in roughly 1% to 8% of the posts.
The machine line (bench.machine) is printed first, the database server with each backend.
"""

from __future__ import annotations

import argparse
import array
import bisect
import datetime as dt
import itertools
import os
import random
import sqlite3
import statistics
import string
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.auth.models import User
from app.db import Database
from app.migrate import upgrade_to_head
from app.open_records.schemas import SearchQuery
from app.search.query import STOP_WORDS
from app.search.service import search
from bench.machine import describe

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1/postgres"
EMPLOYEES = 500
PLATFORMS = ("mastodon", "bluesky", "feed", "youtube")
FIRST_DAY = dt.datetime(2021, 1, 1, tzinfo=dt.UTC)
DAYS = 5 * 365 + 180
WINDOW_DAYS = 90
CHUNK = 50_000
FUNCTION_WORDS = (
    "the of and to a in is for on that with at by this it from be are as we our will you "
    "your have an or not all was can more city new about park"
).split()
CIVIC_WORDS = (
    "pool closure council meeting budget street road permit library water snow parking "
    "hearing zoning trash recycling police fire school bus transit bridge sidewalk tree "
    "festival concert vote election tax fee grant housing shelter clinic repair construction "
    "detour flood storm power outage hydrant playground trail beach garden museum"
).split()


@dataclass(frozen=True)
class Vocabulary:
    words: list[str]
    cumulative: list[float]

    @classmethod
    def build(cls, rng: random.Random, size: int = 30_000, s: float = 1.1) -> Vocabulary:
        syllables = [c + v for c in "bcdfghjklmnprstvwz" for v in "aeiou"] + [
            c + v + e for c in "bdgklmnprst" for v in "aeiou" for e in "nrst"
        ]
        words: list[str] = list(FUNCTION_WORDS)
        seen = set(words)
        civic = list(reversed(CIVIC_WORDS))
        while len(words) < size:
            # Real civic words every 40 ranks among the content words, made-up words between.
            if len(words) % 40 == 0 and civic:
                word = civic.pop()
            else:
                word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
            if word not in seen:
                seen.add(word)
                words.append(word)
        weights = [1.0 / (rank**s) for rank in range(1, size + 1)]
        return cls(words, list(itertools.accumulate(weights)))

    def sample(self, rng: random.Random, k: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cumulative, k=k)

    def query_words(self, rng: random.Random) -> tuple[str, str]:
        """Two distinct words drawn by frequency from the content-word ranks 30-3,000."""
        low, high = 30, 3_000
        band = self.cumulative[low - 1 : high]
        base = self.cumulative[low - 2]
        while True:
            picks = []
            for _ in range(2):
                x = base + rng.random() * (band[-1] - base)
                picks.append(self.words[low - 1 + bisect.bisect_left(band, x)])
            if picks[0] != picks[1]:
                return picks[0], picks[1]

    def frequent_words(self, rng: random.Random) -> tuple[str, str]:
        """Two distinct frequent content words (ranks 38-300, not stop words), uniformly."""
        band = [w for w in self.words[37:300] if w not in STOP_WORDS]
        first, second = rng.sample(band, 2)
        return first, second


class WordStream:
    """Words by frequency, fast: a table in which each word fills a share of 2**22 slots
    equal to its probability, indexed with random bytes a million words at a time (a
    weighted choices() per word would take most of the load time)."""

    BITS = 22

    def __init__(self, vocabulary: Vocabulary, rng: random.Random) -> None:
        self.rng = rng
        total = vocabulary.cumulative[-1]
        slots = 1 << self.BITS
        self.table: list[str] = []
        previous = 0.0
        for word, cumulative in zip(vocabulary.words, vocabulary.cumulative, strict=True):
            self.table.extend([word] * max(1, round((cumulative - previous) / total * slots)))
            previous = cumulative
        # Rounding leaves the table a little off 2**22: trim or pad it at the rare end.
        del self.table[slots:]
        self.table.extend(vocabulary.words[-(slots - len(self.table)) :][: slots - len(self.table)])
        assert len(self.table) == slots
        self.shift = 32 - self.BITS
        self.words: list[str] = []
        self.position = 0

    def take(self, k: int) -> str:
        if self.position + k > len(self.words):
            indexes = array.array("I")
            indexes.frombytes(self.rng.randbytes(4 * 1_000_000))
            table, shift = self.table, self.shift
            self.words = [table[i >> shift] for i in indexes]
            self.position = 0
        self.position += k
        return " ".join(self.words[self.position - k : self.position])


@dataclass(frozen=True)
class Rows:
    posts: list[tuple[Any, ...]]
    versions: list[tuple[Any, ...]]
    index: list[tuple[Any, ...]]


def _accounts() -> list[tuple[int, int, str, str]]:
    """(account id, owner id, platform, handle): one or two accounts per employee."""
    accounts = []
    account_id = 0
    for owner in range(1, EMPLOYEES + 1):
        for n in range(1 + owner % 2):
            account_id += 1
            platform = PLATFORMS[(owner + n) % len(PLATFORMS)]
            accounts.append((account_id, owner, platform, f"employee{owner}-{n}.{platform}"))
    return accounts


def generate(total: int, seed: int = 7) -> Iterator[Rows]:
    rng = random.Random(seed)
    words = WordStream(Vocabulary.build(random.Random(seed)), rng)
    accounts = _accounts()
    names = ["".join(rng.choices(string.ascii_lowercase, k=7)).title() for _ in range(2000)]
    for start in range(1, total + 1, CHUNK):
        stop = min(start + CHUNK, total + 1)
        rows = Rows([], [], [])
        for post_id in range(start, stop):
            account_id, owner, platform, handle = accounts[rng.randrange(len(accounts))]
            created = FIRST_DAY + dt.timedelta(seconds=rng.randrange(DAYS * 86_400))
            captured = created + dt.timedelta(minutes=rng.randint(5, 600))
            url = f"https://{platform}.example/{handle}/{post_id}"
            body = words.take(rng.randint(8, 45))
            author = f"{handle}\nEmployee {owner}"
            replies = ""
            if rng.random() < 0.2:
                replies = "\n".join(
                    f"{rng.choice(names)} r{rng.randrange(10**6)}.example "
                    + words.take(rng.randint(3, 20))
                    for _ in range(rng.randint(1, 3))
                )
            media = words.take(6) if rng.random() < 0.125 else ""
            rows.posts.append(
                (post_id, account_id, owner, url, platform, f"{platform}:{post_id}", captured)
            )
            rows.versions.append((post_id, post_id, created, captured, body, handle, platform))
            rows.index.append(
                (
                    post_id,
                    post_id,
                    1,
                    owner,
                    account_id,
                    platform,
                    created,
                    captured,
                    url,
                    handle,
                    f"Employee {owner}",
                    body,
                    author,
                    replies,
                    media,
                )
            )
        yield rows


INDEX_COLUMNS = (
    "version_id, post_id, version_number, owner_id, account_id, platform, created_at, "
    "captured_at, url, author_handle, author_name, body, author, replies, media"
)


def _sqlite_time(value: dt.datetime) -> str:
    # The text form SQLAlchemy's SQLite DateTime stores (naive UTC), so range filters compare.
    return value.astimezone(dt.UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


def load_sqlite(database: Database, total: int) -> None:
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")  # rows are consistent by construction
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA journal_mode=OFF")  # a bulk load into a scratch file
        cursor.execute("PRAGMA cache_size=-262144")
        now = _sqlite_time(FIRST_DAY)
        cursor.executemany(
            "INSERT INTO users (id, email, name, role, is_active, created_at) "
            "VALUES (?, ?, ?, ?, 1, ?)",
            [
                (o, f"e{o}@city.example", f"Employee {o}", "employee", now)
                for o in range(1, EMPLOYEES + 1)
            ],
        )
        cursor.executemany(
            "INSERT INTO social_accounts (id, owner_id, platform, handle, profile_url, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [(a, o, p, h, f"https://{p}.example/{h}", now) for a, o, p, h in _accounts()],
        )
        for rows in generate(total):
            cursor.executemany(
                "INSERT INTO flagged_posts (id, account_id, flagged_by_id, url, platform, "
                "external_id, status, flagged_at, polls_done, failure_count) "
                "VALUES (?, ?, ?, ?, ?, ?, 'captured', ?, 1, 0)",
                [(*r[:6], _sqlite_time(r[6])) for r in rows.posts],
            )
            cursor.executemany(
                "INSERT INTO captured_versions (id, post_id, number, kind, captured_at, "
                "platform_created_at, content_hash, source_sha256, text, author_handle, "
                "replies_captured, collector, collector_version) "
                "VALUES (?, ?, 1, 'capture', ?, ?, printf('%064x', ?), '', ?, ?, 1, ?, 'bench')",
                [
                    (v, p, _sqlite_time(cap), _sqlite_time(cr), v, body, h, plat)
                    for v, p, cr, cap, body, h, plat in rows.versions
                ],
            )
            cursor.executemany(
                f"INSERT INTO search_index ({INDEX_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*r[:6], _sqlite_time(r[6]), _sqlite_time(r[7]), *r[8:]) for r in rows.index],
            )
            raw.commit()
        # One merge of the FTS5 segments, as a deployment's quiet-hour maintenance would.
        cursor.execute("INSERT INTO search_index_fts (search_index_fts) VALUES ('optimize')")
        cursor.execute("ANALYZE")
        raw.commit()
        cursor.execute("PRAGMA journal_mode=WAL")
    finally:
        raw.close()


def load_postgres(database: Database, total: int) -> None:
    raw = database.engine.raw_connection()
    try:
        cursor: Any = raw.cursor()
        cursor.execute("SET maintenance_work_mem = '512MB'")
        cursor.execute("SET synchronous_commit = off")
        # Bulk load: the index table's indexes are rebuilt once after the rows are in,
        # from their own definitions.
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'search_index' "
            "AND indexname <> 'search_index_pkey'"
        )
        index_defs = cursor.fetchall()
        for name, _definition in index_defs:
            cursor.execute(f'DROP INDEX "{name}"')
        cursor.execute("CREATE UNLOGGED TABLE bench_staging (LIKE search_index INCLUDING DEFAULTS)")
        cursor.execute("ALTER TABLE bench_staging DROP COLUMN document")
        with cursor.copy(
            "COPY users (id, email, name, role, is_active, created_at) FROM STDIN"
        ) as copy:
            for o in range(1, EMPLOYEES + 1):
                copy.write_row(
                    (o, f"e{o}@city.example", f"Employee {o}", "employee", True, FIRST_DAY)
                )
        with cursor.copy(
            "COPY social_accounts (id, owner_id, platform, handle, profile_url, created_at) "
            "FROM STDIN"
        ) as copy:
            for a, o, p, h in _accounts():
                copy.write_row((a, o, p, h, f"https://{p}.example/{h}", FIRST_DAY))
        for rows in generate(total):
            with cursor.copy(
                "COPY flagged_posts (id, account_id, flagged_by_id, url, platform, external_id, "
                "flagged_at, status, polls_done, failure_count) FROM STDIN"
            ) as copy:
                for r in rows.posts:
                    copy.write_row((*r, "captured", 1, 0))
            with cursor.copy(
                "COPY captured_versions (id, post_id, number, kind, captured_at, "
                "platform_created_at, content_hash, source_sha256, text, author_handle, "
                "replies_captured, collector, collector_version) FROM STDIN"
            ) as copy:
                for v, p, cr, cap, body, h, plat in rows.versions:
                    copy.write_row(
                        (v, p, 1, "capture", cap, cr, f"{v:064x}", "", body, h, True, plat, "bench")
                    )
            with cursor.copy(f"COPY bench_staging ({INDEX_COLUMNS}) FROM STDIN") as copy:
                for r in rows.index:
                    copy.write_row(r)
            raw.commit()
        # The same weighting as index_version (app/search/service.py _pg_document).
        cursor.execute(
            f"INSERT INTO search_index ({INDEX_COLUMNS}, document) "
            f"SELECT {INDEX_COLUMNS}, "
            "setweight(to_tsvector('postvault_search', body), 'A') || "
            "setweight(to_tsvector('postvault_search', author), 'B') || "
            "setweight(to_tsvector('postvault_search', media), 'B') || "
            "setweight(to_tsvector('postvault_search', replies), 'C') FROM bench_staging"
        )
        cursor.execute("DROP TABLE bench_staging")
        raw.commit()
        for _name, definition in index_defs:
            cursor.execute(definition)
            raw.commit()
    finally:
        raw.close()
    # VACUUM cannot run in a transaction block.
    autocommit = create_engine(make_url(database.url), isolation_level="AUTOCOMMIT")
    with autocommit.connect() as conn:
        conn.execute(text("VACUUM ANALYZE"))
    autocommit.dispose()


QUERY_KINDS = {
    "selective": "two words + employee + 90 days",
    "broad": "two frequent words + 90 days",
}


def run_queries(
    database: Database, queries: int, seed: int = 11, *, kind: str = "selective"
) -> tuple[list[float], list[float], int]:
    """(wall seconds per query, this process's CPU seconds per query, total hits)."""
    rng = random.Random(seed)
    vocabulary = Vocabulary.build(random.Random(7))
    timings: list[float] = []
    cpu: list[float] = []
    hits = 0
    for _ in range(queries):
        if kind == "selective":
            a, b = vocabulary.query_words(rng)
        else:
            a, b = vocabulary.frequent_words(rng)
        start = FIRST_DAY.date() + dt.timedelta(days=rng.randrange(DAYS - WINDOW_DAYS))
        employee = rng.randint(1, EMPLOYEES)
        query = SearchQuery(
            q=f"{a} {b}",
            employee_id=employee if kind == "selective" else None,
            date_from=start,
            date_to=start + dt.timedelta(days=WINDOW_DAYS - 1),
        )
        with database.session() as session:
            viewer = session.get(User, EMPLOYEES + 1)
            assert viewer is not None
            began, began_cpu = time.perf_counter(), time.process_time()
            page = search(session, query=query, viewer=viewer)
            timings.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
            hits += page.total
    return timings, cpu, hits


def bench(url: str, posts: int, queries: int, *, load: bool = True) -> None:
    backend = make_url(url).get_backend_name()
    upgrade_to_head(url)
    database = Database(url)
    try:
        began = time.perf_counter()
        if load:
            (load_sqlite if database.is_sqlite else load_postgres)(database, posts)
        load_seconds = time.perf_counter() - began
        with database.session() as session:
            # The viewer stays between runs (--no-load): its audited views refer to it.
            if session.get(User, EMPLOYEES + 1) is None:
                session.add(
                    User(
                        id=EMPLOYEES + 1,
                        email="officer@city.example",
                        name="Officer",
                        role="records_officer",
                    )
                )
        if database.is_sqlite:
            server = f"SQLite {sqlite3.sqlite_version}"
        else:
            with database.session() as session:
                server = "PostgreSQL " + str(session.execute(text("SHOW server_version")).scalar())
        results = {}
        for kind in QUERY_KINDS:
            run_queries(database, 10, seed=3, kind=kind)  # warm the caches
            results[kind] = run_queries(database, queries, kind=kind)
    finally:
        database.dispose()
    print(f"{backend:10} {server}  posts={posts:,} load={load_seconds:.0f}s")
    for kind, (timings, cpu, hits) in results.items():
        ms = sorted(t * 1000 for t in timings)
        cpu_ms = sorted(t * 1000 for t in cpu)
        print(
            f"{backend:10} {kind:9} {QUERY_KINDS[kind]}: median={statistics.median(ms):.1f} ms  "
            f"p95={_p95(ms):.1f} ms  max={ms[-1]:.1f} ms  "
            f"({queries} queries, {hits / queries:.1f} hits on average)"
        )
        # The CPU of this process only: on PostgreSQL the server's share is not in it.
        print(
            f"{backend:10} {kind:9} client CPU: median={statistics.median(cpu_ms):.1f} ms  "
            f"p95={_p95(cpu_ms):.1f} ms  (load {_load()})"
        )


def _p95(sorted_values: list[float]) -> float:
    return sorted_values[min(len(sorted_values) - 1, round(0.95 * len(sorted_values)) - 1)]


def _load() -> str:
    return "/".join(f"{v:.1f}" for v in os.getloadavg())


def _temp_postgres() -> tuple[str, Any]:
    name = f"pv_bench_search_{uuid.uuid4().hex[:8]}"
    admin = create_engine(make_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False), (
        admin,
        name,
    )


def _drop_postgres(handle: Any) -> None:
    admin, name = handle
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", help="an empty database to load (kept afterwards)")
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--no-load", action="store_true", help="query a --database-url loaded by an earlier run"
    )
    args = parser.parse_args(argv)
    if args.no_load and not args.database_url:
        parser.error("--no-load needs --database-url")
    print(describe(), flush=True)
    if args.database_url:
        bench(args.database_url, args.posts, args.queries, load=not args.no_load)
        return 0
    if args.backend in ("sqlite", "both"):
        with tempfile.TemporaryDirectory(prefix="pv-bench-search-") as folder:
            bench(f"sqlite:///{Path(folder) / 'bench.db'}", args.posts, args.queries)
    if args.backend in ("postgresql", "both"):
        url, handle = _temp_postgres()
        try:
            bench(url, args.posts, args.queries)
        finally:
            _drop_postgres(handle)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
