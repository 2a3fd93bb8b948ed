"""The server holds under concurrent load (issue 13, item 1), on the suite's database.

A real uvicorn server on loopback, many concurrent clients with one token: every answer is a
200 (it stalled at 41 clients: 40 worker threads waited for pool connections held by
requests that were waiting for a thread). When the pool really is exhausted the answer is a
503 with Retry-After, never a 500. Figures (req/s, p50/p95) are in bench/load.py.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from app.auth import service as auth_service
from app.auth.models import ApiToken
from app.config import Settings
from app.db import Database, utcnow
from app.main import create_app
from tests.conftest import MakePerson

CLIENTS = 100


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def live_server(database_url: str, db: Database, tmp_path: Path) -> Iterator[str]:
    settings = Settings(
        database_url=database_url, archive_dir=tmp_path / "archive", run_scheduler=False
    )
    app: FastAPI = create_app(settings, database=db)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", backlog=1024)
    )
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped while starting"
        assert time.monotonic() < deadline, "uvicorn did not start within 60 s"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def test_many_concurrent_clients_get_answers_not_errors(
    live_server: str, make_person: MakePerson
) -> None:
    person = make_person()
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(_n: int) -> None:
        with httpx.Client(base_url=live_server, headers=person.headers, timeout=120) as http:
            start.wait()  # all at once: more requests in flight than anyio's 40 threads
            for _ in range(3):
                status = http.get("/api/v1/posts", params={"limit": 50}).status_code
                with lock:
                    statuses[status] += 1

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(client, range(CLIENTS)))
    assert statuses == Counter({200: CLIENTS * 3})


def test_token_use_is_written_at_most_once_a_minute(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    person = make_person()

    def last_used() -> dt.datetime | None:
        with db.session() as session:
            row = session.query(ApiToken).filter(ApiToken.user_id == person.user.id).one()
            return row.last_used_at

    assert client.get("/api/v1/me", headers=person.headers).status_code == 200
    first = last_used()
    assert first is not None
    for _ in range(3):
        assert client.get("/api/v1/me", headers=person.headers).status_code == 200
    assert last_used() == first

    # A minute later the next use is written again.
    earlier = utcnow() - dt.timedelta(minutes=2)
    with db.session() as session:
        session.execute(
            update(ApiToken).where(ApiToken.user_id == person.user.id).values(last_used_at=earlier)
        )
    # This process also remembers its last write per token (so a burst tries once); forget
    # it, as a minute passing would.
    auth_service._token_marks.clear()
    assert client.get("/api/v1/me", headers=person.headers).status_code == 200
    latest = last_used()
    assert latest is not None
    assert latest > earlier + dt.timedelta(minutes=1)


def test_an_exhausted_pool_is_a_503_with_retry_after(
    database_url: str, tmp_path: Path, make_person: MakePerson
) -> None:
    person = make_person()
    small = Database(database_url, pool_size=1, max_overflow=0, wait_seconds=0.5)
    settings = Settings(
        database_url=database_url, archive_dir=tmp_path / "archive", run_scheduler=False
    )
    app = create_app(settings, database=small)
    held = small.engine.connect()  # the pool's only connection
    try:
        with TestClient(app, raise_server_exceptions=False) as test_client:
            response = test_client.get("/api/v1/me", headers=person.headers)
    finally:
        held.close()
        small.dispose()
    assert response.status_code == 503
    assert int(response.headers["retry-after"]) >= 1
    assert "busy" in response.json()["detail"]
