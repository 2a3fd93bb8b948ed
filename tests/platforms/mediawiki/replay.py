"""A loopback wiki that replays the real answers recorded from MediaWiki 1.39
(tests/fixtures/mediawiki/, see SOURCES.md), for what a real wiki cannot be made to send on
demand: a 429, a busy-wiki error, a truncated or malformed answer, an error envelope.

The wiki lives under `prefix` (default /w, as on Wikipedia), so the API is at /w/api.php and
nothing but the page's EditURI link says so. Tests set `faults[<answer name>]` to a Reply to
send instead of the recorded answer ("revision", "check", "parse", "compare", "imageinfo",
"page", "rsd"), and `state` to "present" or "deleted".
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.loopback import Loopback, Reply, serve

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "mediawiki"
REVISION = 4  # the recorded revision (by Alice); its parent is 3
PARENT = 3


def recorded(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


@dataclass
class ReplayWiki:
    server: Loopback
    prefix: str
    faults: dict[str, Reply] = field(default_factory=dict)
    state: str = "present"
    edit_uri: str | None = None  # an EditURI href to serve instead of the recorded one
    api_calls: list[str] = field(default_factory=list)
    any_revision: bool = False  # answer every revision id with the recorded revision

    @property
    def netloc(self) -> str:
        return self.server.netloc

    @property
    def origin(self) -> str:
        return f"{self.server.base_url}{self.prefix}"

    @property
    def user_page(self) -> str:
        return f"{self.origin}/wiki/User:Alice"

    def revision_url(self) -> str:
        return f"{self.origin}/index.php?title=Budget_hearing&diff={REVISION}&oldid={PARENT}"

    def _fill(self, text: str) -> str:
        return text.replace("{origin}", self.origin)

    def _answer(self, name: str) -> Reply:
        if name in self.faults:
            return self.faults[name]
        data = recorded(name_to_file(name, self.state))
        body = data["body"]
        if isinstance(body, str):
            text = self._fill(body)
            if name == "page" and self.edit_uri is not None:
                text = text.replace(f"{self.origin}/api.php?action=rsd", self.edit_uri)
            return Reply(200 if name != "page" else data["status"], text.encode(), _type(data))
        return Reply(data["status"], self._fill(json.dumps(body)).encode(), _type(data))

    def handle(self, method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path == f"{self.prefix}/wiki/User:Alice":
            return self._answer("page")
        if parts.path == f"{self.prefix}/discovery.xml":
            return self._answer("rsd")
        if parts.path.startswith(f"{self.prefix}/images/"):
            return Reply(
                200, (FIXTURES / "local_chart.png").read_bytes(), {"Content-Type": "image/png"}
            )
        if parts.path != f"{self.prefix}/api.php":
            return Reply(404, b"not here", {"Content-Type": "text/plain"})
        name = api_answer_name(query)
        self.api_calls.append(name)
        reply = self._answer(name)
        wanted = query.get("revids")
        if self.any_revision and name in ("revision", "check") and wanted != str(REVISION):
            # The benchmark flags many revisions: each is answered as the recorded one.
            data = json.loads(reply.body)
            for page in data.get("query", {}).get("pages", []):
                for revision in page.get("revisions", []):
                    revision["revid"] = int(wanted or 0)
            reply = Reply(reply.status, json.dumps(data).encode(), reply.headers)
        return reply


def api_answer_name(query: dict[str, str]) -> str:
    action = query.get("action")
    if action == "rsd":
        return "rsd"
    if action in ("parse", "compare"):
        return action
    if query.get("list") == "users":
        return "users"
    if query.get("prop") == "imageinfo":
        return "imageinfo"
    if query.get("prop") == "revisions":
        return "revision" if "content" in query.get("rvprop", "").split("|") else "check"
    return "unknown"


def name_to_file(name: str, state: str) -> str:
    if name == "check" and state == "deleted":
        return "local_check_revision_page_deleted.json"
    return {
        "page": "local_user_page.json",
        "rsd": "local_rsd.json",
        "revision": "local_query_revision.json",
        "check": "local_check_revision.json",
        "parse": "local_parse.json",
        "compare": "local_compare.json",
        "imageinfo": "local_imageinfo.json",
        "users": "local_users_alice.json",
        "unknown": "android_api_error_unknown_action.json",
    }[name]


def _type(data: dict[str, Any]) -> dict[str, str]:
    content_type = (data.get("headers") or {}).get("content-type") or "application/json"
    return {"Content-Type": content_type}


@contextmanager
def replay_wiki(prefix: str = "/w") -> Iterator[ReplayWiki]:
    holder: list[ReplayWiki] = []

    def handler(method: str, path: str, headers: dict[str, str], body: bytes) -> Reply:
        return holder[0].handle(method, path, headers, body)

    with serve(handler) as server:
        wiki = ReplayWiki(server, prefix)
        holder.append(wiki)
        yield wiki
