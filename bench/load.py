"""Concurrent API load on `postvault serve`, on SQLite and on PostgreSQL.

    python -m bench.load                        # both: a temp SQLite file and a temp PG database
    python -m bench.load --database-url URL     # one empty database (migrated and loaded)
    python -m bench.load --clients 100 --seconds 10

Starts `postvault serve` (uvicorn, scheduler off) on a free loopback port, loads one
employee with 50 flagged posts, then runs `--clients` concurrent clients, each sending
`GET /api/v1/posts?limit=50` with the employee's token back to back for `--seconds`.
Every answer but a 200 counts as an error. Prints requests per second, p50/p95/max
latency and the errors by status; exits 1 when there was any error.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from app.audit.service import Actor
from app.auth import service as auth_service
from app.db import Database
from app.migrate import upgrade_to_head

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1/postgres"
POSTS = 50
PATH = "/api/v1/posts?limit=50"


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load(database_url: str) -> str:
    """Migrate, add one employee with POSTS flagged posts; return the employee's token."""
    from app.accounts.models import SocialAccount
    from app.posts.models import FlaggedPost

    upgrade_to_head(database_url)
    database = Database(database_url)
    try:
        with database.session() as session:
            actor = Actor.system("bench")
            user = auth_service.create_user(
                session, email="load@city.example", name="Load", role="employee", actor=actor
            )
            token = auth_service.issue_token(session, user=user, actor=actor, label="bench")
            account = SocialAccount(
                owner_id=user.id,
                platform="mastodon",
                handle="load@social.example",
                profile_url="https://social.example/@load",
            )
            session.add(account)
            session.flush()
            for n in range(POSTS):
                session.add(
                    FlaggedPost(
                        account_id=account.id,
                        flagged_by_id=user.id,
                        url=f"https://social.example/@load/{1000 + n}",
                        platform="mastodon",
                        external_id=str(1000 + n),
                        note=f"post {n}",
                    )
                )
    finally:
        database.dispose()
    return token


def start_server(database_url: str, folder: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "POSTVAULT_DATABASE_URL": database_url,
        "POSTVAULT_ARCHIVE_DIR": str(folder / "archive"),
        "POSTVAULT_RUN_SCHEDULER": "false",
    }
    log = (folder / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if server.poll() is not None:
            break
        time.sleep(0.3)
    server.kill()
    raise SystemExit(f"postvault serve did not start:\n{(folder / 'serve.log').read_text()}")


async def run_clients(base: str, token: str, clients: int, seconds: float) -> Result:
    result = Result()
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as http:
        # One warm-up request, so the first figures do not include imports on first use.
        (await http.get(PATH, timeout=30)).raise_for_status()
        stop_at = time.monotonic() + seconds

        async def client() -> None:
            while time.monotonic() < stop_at:
                started = time.monotonic()
                try:
                    response = await http.get(PATH, timeout=60)
                except httpx.HTTPError as exc:
                    result.errors[type(exc).__name__] += 1
                    continue
                if response.status_code == 200:
                    result.latencies.append(time.monotonic() - started)
                else:
                    result.errors[str(response.status_code)] += 1

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(clients)))
        result.elapsed = time.monotonic() - started
    return result


def report(name: str, clients: int, result: Result) -> None:
    answered = len(result.latencies)
    errors = sum(result.errors.values())
    print(f"{name}: {clients} clients, {result.elapsed:.1f} s")
    if answered:
        quantiles = statistics.quantiles(result.latencies, n=100) if answered > 1 else [0.0] * 99
        print(
            f"  {answered / result.elapsed:8.1f} req/s   p50 {quantiles[49] * 1000:6.1f} ms   "
            f"p95 {quantiles[94] * 1000:6.1f} ms   max {max(result.latencies) * 1000:6.1f} ms"
        )
    detail = ", ".join(f"{k}: {v}" for k, v in sorted(result.errors.items()))
    print(f"  {answered} answered 200, {errors} errors{f' ({detail})' if detail else ''}")


def bench(name: str, database_url: str, clients: int, seconds: float) -> bool:
    with tempfile.TemporaryDirectory(prefix="pv-load-") as tmp:
        folder = Path(tmp)
        token = load(database_url)
        port = free_port()
        server = start_server(database_url, folder, port)
        try:
            result = asyncio.run(run_clients(f"http://127.0.0.1:{port}", token, clients, seconds))
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    report(name, clients, result)
    return not result.errors and bool(result.latencies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="an empty database to use (default: both temps)")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    if not 1 <= args.clients <= 1000 or not 0 < args.seconds <= 300:
        parser.error("--clients is 1..1000 and --seconds is up to 300")
    if args.database_url:
        ok = bench("given database", args.database_url, args.clients, args.seconds)
        return 0 if ok else 1
    ok = True
    with tempfile.TemporaryDirectory(prefix="pv-load-db-") as tmp:
        ok &= bench("SQLite", f"sqlite:///{tmp}/load.db", args.clients, args.seconds)
    name = f"pv_load_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
            ok &= bench("PostgreSQL", url, args.clients, args.seconds)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
