"""Issue 7 end to end: employees flag posts on two platforms (loopback servers), PostVault
captures them; an officer opens a request, searches, builds the set, redacts a span and
packages it. The ZIP is a valid BagIt bag whose manifest hashes match the archive, the redacted
text cannot be extracted from the redacted PDF, and the posts stay held until the request is
granted."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bagit
import httpx
import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from app.collectors.service import CaptureContext
from app.config import Settings
from app.db import Database
from app.open_records.redaction import find_leaks
from app.pipeline import build_capture_context
from app.storage.local import LocalStore
from tests.conftest import MakePerson, Person
from tests.loopback import Loopback, Reply, serve
from tests.platforms.mastodon_like import MastodonInstance, mastodon_instance

SECRET = "555-0142"
ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Parks Department blog</title>
  <id>urn:uuid:60a76c80-d399-11d9-b91c-0003939e0af6</id>
  <updated>2026-06-02T09:00:00Z</updated>
  <link href="{base}/"/>
  <entry>
    <title>Pool closure in June</title>
    <id>tag:parks.example.gov,2026:post-7</id>
    <link rel="alternate" href="{base}/2026/06/pool-closure"/>
    <published>2026-06-01T17:00:00Z</published>
    <updated>2026-06-02T09:00:00Z</updated>
    <author><name>Pat Parks</name></author>
    <content type="html">&lt;p&gt;The Oak St pool closure lasts all of June while the filters are replaced.&lt;/p&gt;</content>
  </entry>
</feed>
"""


@pytest.fixture
def blog() -> Iterator[Loopback]:
    def handler(_method: str, path: str, _headers: dict[str, str], _body: bytes) -> Reply:
        assert loopback_box
        base = loopback_box[0].base_url
        if path == "/feed.xml":
            return Reply(
                200, ATOM.format(base=base).encode(), {"Content-Type": "application/atom+xml"}
            )
        if path == "/2026/06/pool-closure":
            return Reply(
                200, b"<html><body>Pool closure</body></html>", {"Content-Type": "text/html"}
            )
        return Reply(404, b"not found")

    loopback_box: list[Loopback] = []
    with serve(handler) as loopback:
        loopback_box.append(loopback)
        yield loopback


@pytest.fixture
def masto() -> Iterator[MastodonInstance]:
    with mastodon_instance() as instance:
        yield instance


@pytest.fixture
def ctx(
    db: Database, settings: Settings, masto: MastodonInstance, blog: Loopback
) -> Iterator[CaptureContext]:
    hosts = f"{masto.netloc},{blog.netloc}"
    configured = settings.model_copy(
        update={
            "fetch_allow_hosts": hosts,
            "mastodon_plain_http_instances": masto.netloc,
            "fetch_plain_http_hosts": blog.netloc,  # the blog's account is an http:// URL
        }
    )
    context = build_capture_context(
        db, configured, store=LocalStore(settings.archive_dir), worker="e2e"
    )
    yield context
    context.client.close()


def ok(response: httpx.Response) -> Any:
    assert 200 <= response.status_code < 300, response.text
    return response.json()


def test_request_from_search_to_package(
    client: TestClient,
    make_person: MakePerson,
    masto: MastodonInstance,
    blog: Loopback,
    ctx: CaptureContext,
    settings: Settings,
    tmp_path: Path,
) -> None:
    client.app.state.capture_context = lambda: ctx  # type: ignore[attr-defined]
    client.app.state.settings = ctx.settings  # type: ignore[attr-defined]  # plain-HTTP hosts
    pat: Person = make_person()
    officer: Person = make_person("records_officer")
    emp = pat.headers
    off = officer.headers

    # Employees flag, PostVault captures (Mastodon with an edit, and a blog entry).
    masto.add(
        "117020586180926938",
        f"<p>Pool on Oak St closes in June. Questions: call {SECRET}.</p>",
        media=1,
    )
    masto.edit(
        "117020586180926938", f"<p>Pool on Oak St closes all of June. Questions: call {SECRET}.</p>"
    )
    ok(
        client.post(
            "/api/v1/accounts",
            json={"platform": "mastodon", "handle": f"parks@{masto.netloc}"},
            headers=emp,
        )
    )
    ok(
        client.post(
            "/api/v1/accounts", json={"profile_url": f"{blog.base_url}/feed.xml"}, headers=emp
        )
    )
    toot = ok(
        client.post(
            "/api/v1/posts", json={"url": masto.post_url("117020586180926938")}, headers=emp
        )
    )
    entry = ok(
        client.post(
            "/api/v1/posts", json={"url": f"{blog.base_url}/2026/06/pool-closure"}, headers=emp
        )
    )
    assert isinstance(toot, dict)
    assert isinstance(entry, dict)
    for post in (toot, entry):
        captured = ok(client.post(f"/api/v1/posts/{post['id']}/capture", headers=emp))
        assert captured["outcome"] == "new_version", captured

    # Employees cannot reach any of it.
    assert client.get("/api/v1/requests", headers=emp).status_code == 403
    assert client.get("/api/v1/search", params={"q": "pool"}, headers=emp).status_code == 403

    # The officer opens the request: a saved search holds the matching posts at once.
    opened = ok(
        client.post(
            "/api/v1/requests",
            json={
                "requester_name": None,
                "received_on": "2026-11-20",
                "description": "Every post by parks staff about the pool closure in June",
                "saved_searches": [{"text": "pool", "employee_id": pat.user.id}],
            },
            headers=off,
        )
    )
    assert isinstance(opened, dict)
    rid = opened["id"]
    assert opened["status"] == "received"
    assert opened["held_posts"] == 2
    for post in (toot, entry):
        holds = ok(client.get(f"/api/v1/posts/{post['id']}", headers=off))
        assert isinstance(holds, dict)
        assert [h["kind"] for h in holds["holds"] if h["released_at"] is None] == ["open_records"]

    # Search, and build the set from the hits (all versions of the edited post).
    hits = ok(client.get("/api/v1/search", params={"q": "pool closure OR closes"}, headers=off))
    assert isinstance(hits, dict)
    found = sorted({h["post_id"] for h in hits["hits"]})
    assert found == sorted([toot["id"], entry["id"]])
    items = ok(client.post(f"/api/v1/requests/{rid}/items", json={"post_ids": found}, headers=off))
    assert isinstance(items, list)
    assert len(items) == 3
    bad = client.post(f"/api/v1/requests/{rid}/items", json={"post_ids": [999999]}, headers=off)
    assert bad.status_code == 422

    # Redact the phone number in both versions of the toot.
    for item in items:
        if item["post_id"] == toot["id"]:
            text = str(item["text"])
            start = text.index(SECRET)
            redacted = ok(
                client.post(
                    f"/api/v1/requests/{rid}/items/{item['id']}/redactions",
                    json={
                        "kind": "text",
                        "start": start,
                        "end": start + len(SECRET),
                        "exemption": "personal telephone number (Wis. Stat. 19.36(10))",
                    },
                    headers=off,
                )
            )
            assert isinstance(redacted, dict)
            assert redacted["redacted_sha256"]
            assert redacted["redacted_sha256"] != redacted["archived_sha256"]
            pdf = client.get(f"/api/v1/requests/{rid}/items/{item['id']}/redacted.pdf", headers=off)
            assert pdf.status_code == 200
            page_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
            assert SECRET not in page_text
            assert "REDACTED" in page_text
            assert find_leaks(pdf.content, [SECRET]) == []
    bad_span = client.post(
        f"/api/v1/requests/{rid}/items/{items[0]['id']}/redactions",
        json={"kind": "text", "start": 5, "end": 99999, "exemption": "x"},
        headers=off,
    )
    assert bad_span.status_code == 422

    # Package in the background, poll, download.
    started = ok(client.post(f"/api/v1/requests/{rid}/package", headers=off))
    assert isinstance(started, dict)
    deadline = time.monotonic() + 120
    while True:
        state = ok(client.get(f"/api/v1/requests/{rid}/package/{started['id']}", headers=off))
        assert isinstance(state, dict)
        if state["status"] in ("done", "failed"):
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state["status"] == "done", state["error"]
    download = client.get(f"/api/v1/requests/{rid}/package/{started['id']}/download", headers=off)
    assert download.status_code == 200
    assert hashlib.sha256(download.content).hexdigest() == download.headers["X-Content-SHA256"]

    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        archive.extractall(tmp_path / "bag")
    [root] = list((tmp_path / "bag").iterdir())
    bag = bagit.Bag(str(root))
    bag.validate()  # RFC 8493: manifests, payload oxum, tag manifest
    manifest = json.loads((root / "data" / "manifest.json").read_text())
    store = LocalStore(settings.archive_dir)
    assert len(manifest["items"]) == 3
    for row in manifest["items"]:
        archived = store.get(row["archived_pdf_sha256"])  # the archived PDF, verified on read
        released = (root / row["file"]).read_bytes()
        assert hashlib.sha256(released).hexdigest() == row["released_sha256"]
        if row["redacted"]:
            assert row["released_sha256"] != row["archived_pdf_sha256"]
            assert SECRET not in "".join(
                p.extract_text() for p in PdfReader(io.BytesIO(released)).pages
            )
            assert find_leaks(released, [SECRET]) == []
            assert SECRET in "".join(
                p.extract_text() for p in PdfReader(io.BytesIO(archived)).pages
            )
        else:
            assert released == archived
    combined = PdfReader(str(root / "data" / "combined.pdf"))
    total = len(combined.pages)
    for n, page in enumerate(combined.pages, start=1):
        assert f"{opened['number']} · page {n} of {total}" in (page.extract_text() or "")
    letter = "".join(p.extract_text() for p in PdfReader(str(root / "data" / "letter.pdf")).pages)
    assert "19.35(4)(b)" in letter
    assert "personal telephone number" in letter
    log = [
        json.loads(line) for line in (root / "data" / "audit-log.jsonl").read_text().splitlines()
    ]
    assert {"request.received", "request.items_added", "request.redacted"} <= {
        e["action"] for e in log
    }
    assert (root / "data" / "manifest.csv").read_text().startswith("request,file,post_id")

    # Held until granted: the 19.35(5) timer releases the holds once the request is granted.
    from app.open_records.jobs import holds_timer_job

    holds_timer_job(ctx.database, settings)
    still = ok(client.get(f"/api/v1/posts/{toot['id']}", headers=off))
    assert isinstance(still, dict)
    assert any(h["released_at"] is None for h in still["holds"])
    ok(client.post(f"/api/v1/requests/{rid}/status", json={"status": "granted"}, headers=off))
    holds_timer_job(ctx.database, settings)
    for post in (toot, entry):
        after = ok(client.get(f"/api/v1/posts/{post['id']}", headers=off))
        assert isinstance(after, dict)
        assert all(h["released_at"] is not None for h in after["holds"])
