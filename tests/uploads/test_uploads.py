"""Uploads: each kind of evidence becomes a version with its provenance; each kind of broken
file is refused with a 422 that says what is wrong, and nothing of it is stored."""

from __future__ import annotations

import io
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pypdf import PdfWriter
from sqlalchemy import func, select

from app.collectors.service import CaptureContext
from app.config import Settings
from app.db import Database
from app.pipeline import build_capture_context
from app.posts.models import CapturedVersion
from app.storage.local import LocalStore
from app.storage.models import StoredObject
from app.uploads.models import VersionUpload
from tests.conftest import MakePerson, Person
from tests.platforms.web.sites import pdf_attachments

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webarchive"
SIGNED_WACZ = FIXTURES / "pywacz_valid_signed_example_1.wacz"
OLD_WACZ = FIXTURES / "pywacz_valid_example_1.wacz"
POST_URL = "https://example.com/"


@pytest.fixture
def api(client: TestClient, db: Database, settings: Settings) -> Iterator[TestClient]:
    ctx: CaptureContext = build_capture_context(
        db, settings, store=LocalStore(settings.archive_dir), worker="upload-test"
    )
    client.app.state.capture_context = lambda: ctx  # type: ignore[attr-defined]
    yield client
    ctx.client.close()


def flagged(api: TestClient, who: Person) -> int:
    r = api.post(
        "/api/v1/accounts",
        json={"platform": "web", "profile_url": "https://example.com"},
        headers=who.headers,
    )
    assert r.status_code in (200, 201), r.text
    r = api.post("/api/v1/posts", json={"url": POST_URL}, headers=who.headers)
    assert r.status_code in (200, 201), r.text
    post_id: int = r.json()["id"]
    return post_id


def upload(
    api: TestClient,
    who: Person,
    post_id: int,
    name: str,
    data: bytes,
    *,
    statement: str = "Saved from my own browser while signed in.",
    kind: str | None = None,
) -> tuple[int, dict[str, object]]:
    form = {"statement": statement, **({"kind": kind} if kind else {})}
    r = api.post(
        f"/api/v1/posts/{post_id}/uploads",
        files={"file": (name, data, "application/octet-stream")},
        data=form,
        headers=who.headers,
    )
    body: dict[str, object] = r.json()
    return r.status_code, body


def png(width: int = 64, height: int = 48, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(out, format=fmt)
    return out.getvalue()


def pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=300, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64


def counts(db: Database) -> tuple[int, int, int]:
    with db.session() as session:
        return (
            session.scalar(select(func.count()).select_from(CapturedVersion)) or 0,
            session.scalar(select(func.count()).select_from(StoredObject)) or 0,
            session.scalar(select(func.count()).select_from(VersionUpload)) or 0,
        )


@pytest.mark.parametrize(
    ("name", "data", "kind", "mime", "role"),
    [
        ("capture.wacz", SIGNED_WACZ.read_bytes(), "wacz", "application/wacz", "wacz"),
        ("saved.pdf", pdf(), "pdf", "application/pdf", "upload_pdf"),
        ("screen.png", png(), "screenshot", "image/png", "screenshot"),
        ("screen.jpg", png(fmt="JPEG"), "screenshot", "image/jpeg", "screenshot"),
        ("photo.jpg", png(fmt="JPEG"), "original", "image/jpeg", "image"),
        ("clip.mp4", MP4, "original", "video/mp4", "video"),
    ],
)
def test_each_kind_becomes_a_version_with_its_provenance(
    api: TestClient,
    make_person: MakePerson,
    db: Database,
    settings: Settings,
    name: str,
    data: bytes,
    kind: str,
    mime: str,
    role: str,
) -> None:
    pat = make_person()
    post_id = flagged(api, pat)
    explicit = "original" if kind == "original" else None
    status, body = upload(api, pat, post_id, name, data, kind=explicit)
    assert status == 201, body
    assert body["kind"] == kind
    assert body["mime_type"] == mime
    assert body["size"] == len(data)
    versions = api.get(f"/api/v1/posts/{post_id}/versions", headers=pat.headers).json()
    uploaded = versions[-1]
    assert uploaded["kind"] == "upload"
    assert [m["role"] for m in uploaded["media"]] == [role]
    assert uploaded["media"][0]["sha256"] == body["sha256"]
    assert LocalStore(settings.archive_dir).get(str(body["sha256"])) == data
    assert "Saved from my own browser" in (uploaded["diff_from_previous"] or "")
    with db.session() as session:
        row = session.get(VersionUpload, session.scalar(select(func.max(VersionUpload.version_id))))
        assert row is not None
        assert row.statement == "Saved from my own browser while signed in."
        assert row.kind == kind
        if kind == "wacz":
            assert row.tool == "py-wacz 0.4.0"  # what the WACZ says made it
    if kind == "wacz":
        got = api.get(
            f"/api/v1/posts/{post_id}/versions/{body['version_number']}/capture.wacz",
            headers=pat.headers,
        )
        assert got.status_code == 200
        assert got.content == data
        assert got.headers["x-content-sha256"] == body["sha256"]
        snapshot = api.get(
            f"/api/v1/posts/{post_id}/versions/{body['version_number']}/snapshot.pdf",
            headers=pat.headers,
        )
        assert snapshot.status_code == 200, snapshot.text
        assert data in pdf_attachments(snapshot.content).values()
        events = api.get(
            f"/api/v1/audit?object_type=post&object_id={post_id}",
            headers=make_person("admin").headers,
        )
        if events.status_code == 200:
            actions = [e["action"] for e in events.json().get("items", events.json())]
            assert "upload.added" in actions
            assert "capture.wacz_viewed" in actions


def _tampered_wacz(tmp: Path) -> bytes:
    """The real WACZ with its page list altered: its hash no longer matches."""
    out = tmp / "tampered.wacz"
    with zipfile.ZipFile(SIGNED_WACZ) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            content = source.read(info.filename)
            if info.filename == "pages/pages.jsonl":
                content = content.replace(b"Example Domain", b"Altered Domain")
            target.writestr(info, content)
    return out.read_bytes()


def _other_site_wacz(tmp: Path) -> bytes:
    copy = tmp / "copy.wacz"
    shutil.copy(SIGNED_WACZ, copy)
    return copy.read_bytes()


@pytest.mark.parametrize(
    ("name", "maker", "kind", "says"),
    [
        ("a.wacz", lambda tmp: b"PK\x03\x04 not a zip at all", "wacz", "not a ZIP file"),
        ("a.wacz", _tampered_wacz, "wacz", "does not match its hash"),
        ("a.wacz", lambda tmp: OLD_WACZ.read_bytes(), "wacz", "version 1.1.1 is needed"),
        (
            "a.pdf",
            lambda tmp: b"%PDF-1.7\nthis is not really a pdf\n%%EOF",
            "pdf",
            "cannot be opened",
        ),
        ("a.png", lambda tmp: png()[:60], "screenshot", "must be an image that decodes"),
        ("a.jpg", lambda tmp: png(fmt="JPEG")[:100], "screenshot", "must be an image that decodes"),
        ("a.gif", lambda tmp: png(fmt="GIF"), "screenshot", "must be PNG or JPEG"),
        ("a.mov", lambda tmp: b"\x00\x01\x02 random bytes " * 20, "original", "photo or video"),
    ],
)
def test_a_broken_file_of_each_kind_is_refused_and_nothing_is_stored(
    api: TestClient,
    make_person: MakePerson,
    db: Database,
    tmp_path: Path,
    name: str,
    maker: object,
    kind: str,
    says: str,
) -> None:
    pat = make_person()
    post_id = flagged(api, pat)
    before = counts(db)
    data = maker(tmp_path)  # type: ignore[operator]
    status, body = upload(api, pat, post_id, name, data, kind=kind)
    assert status == 422, body
    assert says in str(body["detail"])
    assert counts(db) == before


def test_a_wacz_without_the_post_is_refused(
    api: TestClient, make_person: MakePerson, db: Database
) -> None:
    pat = make_person()
    api.post(
        "/api/v1/accounts",
        json={"platform": "web", "profile_url": "https://www.facebook.com/pat.employee"},
        headers=pat.headers,
    )
    r = api.post(
        "/api/v1/posts",
        json={"url": "https://www.facebook.com/pat.employee/posts/123"},
        headers=pat.headers,
    )
    assert r.status_code in (200, 201), r.text
    before = counts(db)
    status, body = upload(api, pat, r.json()["id"], "x.wacz", SIGNED_WACZ.read_bytes())
    assert status == 422
    assert "does not contain the post's URL" in str(body["detail"])
    assert counts(db) == before


def test_uploads_are_capped_and_need_a_statement(
    api: TestClient, make_person: MakePerson, settings: Settings
) -> None:
    pat = make_person()
    post_id = flagged(api, pat)
    status, body = upload(api, pat, post_id, "s.png", png(), statement="   ")
    assert status == 422
    assert "statement" in str(body["detail"])
    settings.upload_max_bytes = 100
    status, body = upload(api, pat, post_id, "s.png", png(200, 200))
    assert status == 413
    assert "upload limit" in str(body["detail"])
    other = make_person()
    status, _ = upload(api, other, post_id, "s.png", png())
    assert status == 404  # another employee's post is not found


def test_a_response_package_carries_the_wacz_beside_the_pdf(
    api: TestClient, make_person: MakePerson
) -> None:
    import time

    pat = make_person()
    post_id = flagged(api, pat)
    status, body = upload(api, pat, post_id, "capture.wacz", SIGNED_WACZ.read_bytes())
    assert status == 201, body
    officer = make_person("records_officer").headers
    opened = api.post(
        "/api/v1/requests",
        json={
            "received_on": "2026-11-20",
            "description": "Posts about example.com",
            "confirm_nothing_held": True,
        },
        headers=officer,
    )
    assert opened.status_code in (200, 201), opened.text
    rid = opened.json()["id"]
    added = api.post(f"/api/v1/requests/{rid}/items", json={"post_ids": [post_id]}, headers=officer)
    assert added.status_code in (200, 201), added.text
    started = api.post(f"/api/v1/requests/{rid}/package", headers=officer).json()
    deadline = time.monotonic() + 120
    while True:
        state = api.get(f"/api/v1/requests/{rid}/package/{started['id']}", headers=officer).json()
        if state["status"] in ("done", "failed"):
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state["status"] == "done", state.get("error")
    got = api.get(f"/api/v1/requests/{rid}/package/{started['id']}/download", headers=officer)
    with zipfile.ZipFile(io.BytesIO(got.content)) as bag:
        names = bag.namelist()
        waczs = [n for n in names if n.endswith(".wacz")]
        assert len(waczs) == 1, names
        assert bag.read(waczs[0]) == SIGNED_WACZ.read_bytes()
        assert waczs[0].removesuffix(".wacz") + ".pdf" in names
        manifest = next(n for n in names if n.endswith("data/manifest.csv"))
        assert "wacz_sha256" in bag.read(manifest).decode()
