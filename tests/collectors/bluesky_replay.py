"""A loopback Bluesky network that replays recorded answers (tests/fixtures/bluesky/).

`XrpcReplay` is one loopback server answering by route: a recorded answer is registered
under the request it answered (path plus query parameters), and a request matches when its
path is the same and every recorded parameter but `depth`/`parentHeight` has the same value
(the collector asks for a deeper thread than the recordings did). Registering an answer for
the same request again replaces it, which is how a test moves a post from "original" to
"edited" to "deleted". Every recorded `http://localhost:<port>` and `http://127.0.0.1:<port>`
(the recording network's PDS in DID documents) is rewritten to this server's base URL, so a
DID document names this server as the PDS.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.collectors.servers import Answer, LoopbackServer, Request

BLUESKY_FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "bluesky"
_RECORDED_BASE = re.compile(r"http://(?:localhost|127\.0\.0\.1):\d+")
_IGNORED_PARAMS = {"depth", "parentHeight"}


def load(name: str) -> dict[str, Any]:
    """A recording by its path under tests/fixtures/bluesky/, without `.json`."""
    data: dict[str, Any] = json.loads(
        (BLUESKY_FIXTURES / f"{name}.json").read_text(encoding="utf-8")
    )
    return data


@dataclass(frozen=True)
class _Key:
    path: str
    params: frozenset[tuple[str, str]]


def _key(path: str, params: dict[str, str]) -> _Key:
    kept = {k: v for k, v in params.items() if k not in _IGNORED_PARAMS}
    return _Key(path, frozenset(kept.items()))


class XrpcReplay:
    def __init__(self) -> None:
        self.answers: dict[_Key, tuple[int, list[tuple[str, str]], Any]] = {}
        self.server = LoopbackServer(self._app)

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def host(self) -> str:
        return self.server.host

    def add(self, name: str, *, status: int | None = None) -> dict[str, Any]:
        """Serve the recording `name` for the request it answered; returns the recording."""
        recording = load(name)
        _method, url = recording["request"].split(" ", 1)
        parts = urlsplit(url)
        headers = [(k, str(v)) for k, v in (recording.get("headers") or {}).items()]
        self.answers[_key(parts.path, dict(parse_qsl(parts.query)))] = (
            status or int(recording["status"]),
            headers,
            recording["body"],
        )
        return recording

    def answer(
        self,
        path: str,
        params: dict[str, str],
        body: Any,
        *,
        status: int = 200,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        """Serve an answer the recordings do not hold (built from their shapes)."""
        self.answers[_key(path, params)] = (status, list(headers or []), body)

    def _app(self, request: Request) -> Answer:
        params = dict(parse_qsl(request.query))
        found = self.answers.get(_key(request.route, params))
        if found is None:
            return Answer.json(
                {"error": "MethodNotImplemented", "message": f"not replayed: {request.path}"},
                501,
            )
        status, headers, body = found
        text = _RECORDED_BASE.sub(self.base_url, json.dumps(body))
        names = {name.lower() for name, _ in headers}
        if "content-type" not in names:
            headers = [*headers, ("Content-Type", "application/json; charset=utf-8")]
        return Answer(status, headers, text.encode())

    def requests(self, route: str) -> list[Request]:
        return [r for r in self.server.requests if r.route == route]

    def __enter__(self) -> XrpcReplay:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()


GET_RECORD = "/xrpc/com.atproto.repo.getRecord"
GET_THREAD = "/xrpc/app.bsky.feed.getPostThread"
GET_REPO_STATUS = "/xrpc/com.atproto.sync.getRepoStatus"
RESOLVE_HANDLE = "/xrpc/com.atproto.identity.resolveHandle"


def record_from_thread(thread_recording: dict[str, Any]) -> dict[str, Any]:
    """The getRecord answer for a thread's post: the PDS serves `{uri, cid, value}` and the
    AppView's postView carries the same uri, cid and record, byte for byte."""
    post = thread_recording["body"]["thread"]["post"]
    return {"uri": post["uri"], "cid": post["cid"], "value": post["record"]}


def did_document_for(did: str, handle: str) -> dict[str, Any]:
    """A DID document for an account of the AppView recordings (whose PLC answers were not
    recorded): the recorded PLC document of local_pds with this account's id and handle."""
    document: dict[str, Any] = load("local_pds/13_plc_did_doc")["body"]
    document["id"] = did
    document["alsoKnownAs"] = [f"at://{handle}"]
    for method in document["verificationMethod"]:
        method["controller"] = did
    return document


def active_repo_status(did: str) -> dict[str, Any]:
    """com.atproto.sync.getRepoStatus for a live account, shaped as the recorded inactive
    answers are (`{"did", "active", "status"}`) with the lexicon's `active: true`."""
    return {"did": did, "active": True}
