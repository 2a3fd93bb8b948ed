"""A real atproto network (PLC, PDS, optionally the Bluesky AppView) on loopback, for tests.

`start_network(appview=...)` installs `tools/atproto-devenv` if needed (idempotent, about
2 minutes the first time), starts `run.sh`, waits for the one JSON line it prints when the
network is up, yields the URLs, and stops the network afterwards (stdin EOF, then SIGTERM,
then SIGKILL). `AtprotoClient` creates accounts, posts, edits, deletions, blobs, and changes
account states through the PDS's own XRPC API, as tools/atproto-devenv/verify.py does.

When the network cannot run (no npm, a failed install, no PostgreSQL for the AppView),
`start_network` raises NetworkUnavailable; `unavailable(reason)` then fails the test run
loudly under CI (CI=true) and skips it loudly elsewhere: the suite never passes silently
without having talked to a real PDS in CI.
"""

from __future__ import annotations

import itertools
import json
import os
import selectors
import struct
import subprocess
import tempfile
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NoReturn, TypeVar

import httpx
import psycopg
import pytest

DEVENV = Path(__file__).resolve().parents[2] / "tools" / "atproto-devenv"
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
PASSWORD = "hunter22"
T = TypeVar("T")
_ACCOUNT_NUMBERS = itertools.count(1)


class NetworkUnavailable(Exception):
    """The local atproto network could not be installed or started; the message says why."""


@dataclass(frozen=True)
class AtprotoNetwork:
    pds: str
    plc: str
    appview: str | None
    admin_password: str
    info: dict[str, Any]


def unavailable(reason: str) -> NoReturn:
    """Fail (under CI) or skip (locally) with a message nobody can miss."""
    banner = "!" * 78
    message = (
        f"\n{banner}\nThe local atproto network (tools/atproto-devenv) cannot run, so the "
        f"Bluesky tests against a real PDS did not run:\n{reason}\n"
        "Install it with tools/atproto-devenv/install.sh (needs npm, g++, make, python3 and "
        f"the npm registry; the AppView also needs PostgreSQL).\n{banner}"
    )
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes", "on"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def install(timeout: float = 900.0) -> None:
    try:
        done = subprocess.run(
            [str(DEVENV / "install.sh")],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetworkUnavailable(f"install.sh could not run: {exc}") from exc
    if done.returncode != 0:
        raise NetworkUnavailable(
            f"install.sh failed (exit {done.returncode}):\n{_tail(done.stdout + done.stderr)}"
        )


def _ensure_postgres_database(url: str) -> None:
    """The AppView keeps its schemas in this database (created and dropped per run)."""
    name = url.rsplit("/", 1)[1]
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if exists is None:
                conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        raise NetworkUnavailable(f"the AppView needs PostgreSQL at {url}: {exc}") from exc


def _read_line(stream: IO[str], timeout: float) -> str:
    selector = selectors.DefaultSelector()
    selector.register(stream, selectors.EVENT_READ)
    try:
        if not selector.select(timeout):
            return ""
        return stream.readline()
    finally:
        selector.close()


def _stop(process: subprocess.Popen[str]) -> None:
    if process.stdin is not None and not process.stdin.closed:
        process.stdin.close()  # start.mjs shuts down cleanly on stdin EOF
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    if process.stdout is not None:
        process.stdout.close()


@contextmanager
def start_network(appview: bool, *, startup_timeout: float = 180.0) -> Iterator[AtprotoNetwork]:
    """Run a network until the block ends; raises NetworkUnavailable if it cannot start."""
    install()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ATPROTO_")}
    if appview:
        env["ATPROTO_APPVIEW"] = "1"
        env["ATPROTO_APPVIEW_FALLBACK"] = "0"  # an AppView test must not run without one
        _ensure_postgres_database(env.setdefault("DB_POSTGRES_URL", DEFAULT_PG_URL))
    with tempfile.TemporaryFile("w+") as log:
        try:
            process = subprocess.Popen(
                [str(DEVENV / "run.sh")],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=env,
            )
        except OSError as exc:
            raise NetworkUnavailable(f"run.sh could not start: {exc}") from exc
        try:
            assert process.stdout is not None
            line = _read_line(process.stdout, startup_timeout)
            if not line:
                _stop(process)
                log.seek(0)
                raise NetworkUnavailable(
                    f"run.sh printed no URLs within {startup_timeout:.0f} s "
                    f"(exit {process.returncode}):\n{_tail(log.read())}"
                )
            info: dict[str, Any] = json.loads(line)
            if appview and not info.get("appview"):
                raise NetworkUnavailable(f"the AppView did not start: {info.get('appview_error')}")
            yield AtprotoNetwork(
                pds=info["pds"],
                plc=info["plc"],
                appview=info.get("appview"),
                admin_password=info.get("admin_password", "admin-pass"),
                info=info,
            )
        finally:
            _stop(process)


def wait_until(
    probe: Callable[[], T | None], *, timeout: float = 30.0, what: str = "the condition"
) -> T:
    """Poll `probe` every 50 ms until it returns something (the AppView indexes within
    about 0.3 s; never sleep a fixed time)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def tiny_png(rgb: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    """A valid 1x1 PNG of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = struct.pack(">I", len(data)) + kind + data
        return body + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + bytes(rgb))
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


@dataclass(frozen=True)
class Account:
    handle: str
    did: str
    jwt: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.jwt}"}


@dataclass(frozen=True)
class Ref:
    uri: str
    cid: str

    @property
    def rkey(self) -> str:
        return self.uri.rsplit("/", 1)[1]

    @property
    def strong(self) -> dict[str, str]:
        return {"uri": self.uri, "cid": self.cid}


class AtprotoClient:
    """Writes to the PDS as the accounts it creates (and as its admin)."""

    CREATED_AT = "2026-01-15T17:00:00.000Z"

    def __init__(self, network: AtprotoNetwork, http: httpx.Client) -> None:
        self.network = network
        self.http = http

    def _xrpc(self, nsid: str) -> str:
        return f"{self.network.pds}/xrpc/{nsid}"

    def _post(self, nsid: str, **kwargs: Any) -> Any:
        response = self.http.post(self._xrpc(nsid), **kwargs)
        assert response.status_code == 200, f"{nsid} -> {response.status_code} {response.text}"
        return response.json() if response.content else None

    def create_account(self, name: str) -> Account:
        # PDS service handles allow 3 to 18 characters before the domain.
        handle = f"{name[:10]}{next(_ACCOUNT_NUMBERS)}.test"
        body = self._post(
            "com.atproto.server.createAccount",
            json={"handle": handle, "email": f"{handle}@example.test", "password": PASSWORD},
        )
        return Account(handle=body["handle"], did=body["did"], jwt=body["accessJwt"])

    def set_display_name(self, account: Account, name: str) -> None:
        self._post(
            "com.atproto.repo.putRecord",
            headers=account.auth,
            json={
                "repo": account.did,
                "collection": "app.bsky.actor.profile",
                "rkey": "self",
                "record": {"$type": "app.bsky.actor.profile", "displayName": name},
            },
        )

    def upload_blob(self, account: Account, data: bytes, mime_type: str) -> dict[str, Any]:
        body = self._post(
            "com.atproto.repo.uploadBlob",
            headers={**account.auth, "Content-Type": mime_type},
            content=data,
        )
        blob: dict[str, Any] = body["blob"]
        return blob

    def create_record(
        self, account: Account, record: dict[str, Any], collection: str = "app.bsky.feed.post"
    ) -> Ref:
        body = self._post(
            "com.atproto.repo.createRecord",
            headers=account.auth,
            json={
                "repo": account.did,
                "collection": collection,
                "record": {"$type": collection, "createdAt": self.CREATED_AT, **record},
            },
        )
        return Ref(body["uri"], body["cid"])

    def put_post(self, account: Account, rkey: str, record: dict[str, Any]) -> Ref:
        body = self._post(
            "com.atproto.repo.putRecord",
            headers=account.auth,
            json={
                "repo": account.did,
                "collection": "app.bsky.feed.post",
                "rkey": rkey,
                "record": {
                    "$type": "app.bsky.feed.post",
                    "createdAt": self.CREATED_AT,
                    **record,
                },
            },
        )
        return Ref(body["uri"], body["cid"])

    def delete_post(self, account: Account, rkey: str) -> None:
        self._post(
            "com.atproto.repo.deleteRecord",
            headers=account.auth,
            json={"repo": account.did, "collection": "app.bsky.feed.post", "rkey": rkey},
        )

    def deactivate(self, account: Account) -> None:
        self._post("com.atproto.server.deactivateAccount", headers=account.auth, json={})

    def take_down(self, account: Account) -> None:
        self._post(
            "com.atproto.admin.updateSubjectStatus",
            auth=("admin", self.network.admin_password),
            json={
                "subject": {"$type": "com.atproto.admin.defs#repoRef", "did": account.did},
                "takedown": {"applied": True, "ref": "postvault-test"},
            },
        )

    def delete_account(self, account: Account) -> None:
        self._post(
            "com.atproto.admin.deleteAccount",
            auth=("admin", self.network.admin_password),
            json={"did": account.did},
        )

    def thread(self, uri: str) -> dict[str, Any] | None:
        """The AppView's thread view, or None while it does not have the post."""
        assert self.network.appview is not None
        response = self.http.get(
            f"{self.network.appview}/xrpc/app.bsky.feed.getPostThread",
            params={"uri": uri, "depth": 10},
        )
        if response.status_code != 200:
            return None
        thread: dict[str, Any] = response.json()["thread"]
        return thread
