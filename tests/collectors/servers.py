"""Loopback HTTP servers for the collector tests (and for the capture pipeline's tests).

`LoopbackServer` runs an `http.server.ThreadingHTTPServer` on 127.0.0.1:<free port> in a
thread and answers each request with `app(request) -> Answer`. `MastodonReplay` is a small
Mastodon instance that replays the recorded answers in tests/fixtures/mastodon/.
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
MASTODON_FIXTURES = FIXTURES / "mastodon"
RECORDED_BASE = "http://localhost:3000"


@dataclass
class Request:
    method: str
    path: str  # with the query string
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    @property
    def route(self) -> str:
        return self.path.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.path.split("?", 1)[1] if "?" in self.path else ""


@dataclass
class Answer:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    delay: float = 0.0  # seconds to wait before answering (timeouts)

    @classmethod
    def json(
        cls, body: Any, status: int = 200, headers: list[tuple[str, str]] | None = None
    ) -> Answer:
        base = [("Content-Type", "application/json; charset=utf-8")]
        return cls(status, base + list(headers or []), json.dumps(body).encode())


App = Callable[[Request], Answer]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # chunked answers need it
    # Headers and body leave in one write (as in tests/loopback.py): two small writes on a
    # kept-alive connection meet delayed ACK and cost ~40 ms a request.
    wbufsize = 1 << 16

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        request = Request(
            method=self.command,
            path=self.path,
            headers={k.lower(): v for k, v in self.headers.items()},
            body=self.rfile.read(length) if length else b"",
        )
        self.server.owner.requests.append(request)
        answer = self.server.owner.app(request)
        if answer.delay:
            self.server.owner.stopping.wait(answer.delay)
        self.send_response(answer.status)
        names = {name.lower() for name, _ in answer.headers}
        for name, value in answer.headers:
            self.send_header(name, value)
        if "content-length" not in names and "transfer-encoding" not in names:
            self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD" and answer.status not in (204, 304):
            try:
                if "transfer-encoding" in names:  # chunked, 4 KiB at a time
                    for start in range(0, len(answer.body), 4096):
                        chunk = answer.body[start : start + 4096]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                else:
                    self.wfile.write(answer.body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a size cap or a timeout): that is the test

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: LoopbackServer


class LoopbackServer:
    def __init__(self, app: App) -> None:
        self.app = app
        self.requests: list[Request] = []
        self.stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        """ "127.0.0.1:<port>", the form the allow-list takes."""
        return f"127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host}"

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def serve(app: App) -> Iterator[LoopbackServer]:
    server = LoopbackServer(app).start()
    try:
        yield server
    finally:
        server.stop()


# --- Mastodon replay -------------------------------------------------------------------


@dataclass
class Recording:
    name: str
    method: str
    path: str
    status: int
    headers: list[tuple[str, str]]
    body: Any


def load_recording(name: str) -> Recording:
    data = json.loads((MASTODON_FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    headers = [(k, v) for k, values in data["rate_limit_headers"].items() for v in values]
    uri = data["request"]["uri"]
    return Recording(
        name=name,
        method=data["request"]["method"],
        path=uri.removeprefix(RECORDED_BASE),
        status=data["status"]["code"],
        headers=headers,
        body=data["body"],
    )


def tiny_jpeg() -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


class MastodonReplay:
    """A loopback Mastodon instance built from recordings.

    - `add_status(recording)`: the recorded Status entity is served at GET
      /api/v1/statuses/:id (the recorded answer of a POST/PUT/DELETE is the same entity);
    - `add_history(recording)`: the recorded /history answer;
    - DELETE /api/v1/statuses/:id answers the recorded deletion and from then on GET answers
      the recorded 404 `Record not found`;
    - an id never added answers the recorded 404 `Not Found`;
    - the accounts of added statuses answer /accounts/:id and /accounts/lookup;
    - `context[id]`, `accounts[id]` (status, body) and `script[route]` (answers served first,
      in order: 429s, 5xx, malformed bodies) fill in what the recordings do not cover;
    - media paths (/system/...) answer a small JPEG; `token`, when set, is required.
    Every recorded `http://localhost:3000` is rewritten to this server's base URL.
    """

    _STATUS = re.compile(r"^/api/v1/statuses/([^/]+)(/history|/context)?$")
    _ACCOUNT = re.compile(r"^/api/v1/accounts/([^/]+)$")

    def __init__(self) -> None:
        self.statuses: dict[str, Recording] = {}
        self.history: dict[str, Recording] = {}
        self.deletions: dict[str, Recording] = {}
        self.deleted: set[str] = set()
        self.context: dict[str, Any] = {}
        self.accounts: dict[str, tuple[int, Any]] = {}
        self.script: dict[str, list[Answer]] = {}
        self.token: str | None = None
        self.missing = load_recording("test_status_missing_00_GET_api_v1_statuses_0")
        self.gone = load_recording(
            "test_status_delete_media_07_DELETE_api_v1_statuses_117020606379845323"
        )
        self.server = LoopbackServer(self._app)

    # setup
    def add_status(self, name: str) -> str:
        recording = load_recording(name)
        status_id = str(recording.body["id"])
        self.statuses[status_id] = recording
        account = recording.body.get("account") or {}
        if account.get("id"):
            self.accounts.setdefault(str(account["id"]), (200, account))
        return status_id

    def add_history(self, name: str) -> None:
        recording = load_recording(name)
        self.history[recording.path.split("/")[4]] = recording

    def add_deletion(self, name: str) -> None:
        recording = load_recording(name)
        self.deletions[recording.path.split("/")[4]] = recording

    # answers
    def _rewrite(self, body: Any) -> bytes:
        return json.dumps(body).replace(RECORDED_BASE, self.server.base_url).encode()

    def _answer(self, recording: Recording, status: int | None = None) -> Answer:
        return Answer(status or recording.status, recording.headers, self._rewrite(recording.body))

    def status_json(self, status_id: str) -> Any:
        """A recorded status entity as this server serves it (for building contexts)."""
        return json.loads(self._rewrite(self.statuses[status_id].body))

    def _app(self, request: Request) -> Answer:
        queued = self.script.get(request.route)
        if queued:
            return queued.pop(0)
        if request.route.startswith("/system/"):
            return Answer(200, [("Content-Type", "image/jpeg")], tiny_jpeg())
        if self.token is not None:
            auth = request.headers.get("authorization", "")
            if not auth:
                return Answer.json({"error": "This API requires an authenticated user"}, 401)
            if auth != f"Bearer {self.token}":
                return Answer.json({"error": "The access token is invalid"}, 401)
        headers = self.missing.headers
        if request.route == "/api/v1/accounts/lookup":
            acct = request.query.removeprefix("acct=")
            for code, body in self.accounts.values():
                if isinstance(body, dict) and body.get("acct") == acct:
                    return Answer(code, headers, self._rewrite(body))
            return Answer(404, headers, self._rewrite({"error": "Record not found"}))
        account = self._ACCOUNT.match(request.route)
        if account and request.method == "GET":
            code, body = self.accounts.get(account.group(1), (404, {"error": "Record not found"}))
            return Answer(code, headers, self._rewrite(body))
        match = self._STATUS.match(request.route)
        if not match:
            return self._answer(self.missing)
        status_id, sub = match.group(1), match.group(2)
        if status_id in self.deleted or status_id not in self.statuses:
            return self._answer(self.gone if status_id in self.deleted else self.missing)
        if request.method == "DELETE" and sub is None:
            self.deleted.add(status_id)
            deletion = self.deletions.get(status_id)
            return self._answer(deletion) if deletion else self._answer(self.statuses[status_id])
        if request.method != "GET":
            return Answer.json({"error": "not replayed"}, 405)
        if sub is None:
            return self._answer(self.statuses[status_id], 200)
        if sub == "/history":
            recording = self.history.get(status_id)
            return self._answer(recording) if recording else Answer.json([], 200, headers)
        context = self.context.get(status_id, {"ancestors": [], "descendants": []})
        return Answer(200, headers, self._rewrite(context))

    def __enter__(self) -> MastodonReplay:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
