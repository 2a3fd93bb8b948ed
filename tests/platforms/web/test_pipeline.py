"""The web platform end to end on loopback sites shaped like real ones: register a web
account, flag a page under it, capture it with the browser, and see versions and outcomes."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.collectors.service import CaptureContext
from app.config import Settings
from app.db import Database
from app.pipeline import build_capture_context
from app.platforms.web.wacz import records, validate_wacz
from app.storage.local import LocalStore
from tests.conftest import MakePerson, Person
from tests.loopback import Loopback
from tests.platforms.web.conftest import chromium_or_skip
from tests.platforms.web.sites import (
    MORE_COMMENTS,
    POST_TEXT,
    SiteState,
    pdf_attachments,
    pdf_image_count,
    social_site,
)

pytestmark = pytest.mark.browser


@pytest.fixture
def state() -> SiteState:
    return SiteState()


@pytest.fixture
def site(state: SiteState) -> Iterator[Loopback]:
    with social_site(state) as server:
        yield server


@pytest.fixture
def settings(database_url: str, tmp_path: Path, site: Loopback) -> Settings:
    """The app's settings: the loopback site is reachable (plain HTTP, allow-listed) and
    stands for Facebook."""
    return Settings(
        database_url=database_url,
        archive_dir=tmp_path / "archive",
        fetch_allow_hosts=site.netloc,
        fetch_plain_http_hosts=site.netloc,
        chromium=chromium_or_skip(),
        web_site_hosts=f"{site.netloc}=facebook",
        web_capture_timeout_seconds=30.0,
    )


@pytest.fixture
def api(client: TestClient, db: Database, settings: Settings) -> Iterator[TestClient]:
    ctx: CaptureContext = build_capture_context(
        db, settings, store=LocalStore(settings.archive_dir), worker="web-test"
    )
    client.app.state.capture_context = lambda: ctx  # type: ignore[attr-defined]
    yield client
    ctx.client.close()


def register_and_flag(api: TestClient, who: Person, site: Loopback, path: str) -> int:
    r = api.post(
        "/api/v1/accounts",
        json={"platform": "web", "profile_url": f"{site.base_url}/pat.employee"},
        headers=who.headers,
    )
    assert r.status_code in (200, 201), r.text
    r = api.post("/api/v1/posts", json={"url": site.base_url + path}, headers=who.headers)
    assert r.status_code in (200, 201), r.text
    post_id: int = r.json()["id"]
    return post_id


def capture(api: TestClient, who: Person, post_id: int) -> dict[str, object]:
    r = api.post(f"/api/v1/posts/{post_id}/capture", headers=who.headers)
    assert r.status_code == 200, r.text
    data: dict[str, object] = r.json()
    return data


def test_capture_then_a_new_comment_is_a_new_version(
    api: TestClient,
    make_person: MakePerson,
    site: Loopback,
    state: SiteState,
    settings: Settings,
    tmp_path: Path,
) -> None:
    pat = make_person()
    post_id = register_and_flag(api, pat, site, "/pat.employee/posts/1001")
    first = capture(api, pat, post_id)
    assert first["outcome"] == "new_version", first
    versions = api.get(f"/api/v1/posts/{post_id}/versions", headers=pat.headers).json()
    v1 = versions[0]
    assert POST_TEXT in v1["text"]
    roles = {m["role"]: m["sha256"] for m in v1["media"]}
    assert {"wacz", "screenshot"} <= set(roles)

    store = LocalStore(settings.archive_dir)
    wacz_path = tmp_path / "v1.wacz"
    wacz_path.write_bytes(store.get(roles["wacz"]))
    check = validate_wacz(wacz_path, max_unpacked_bytes=10**8)
    assert check.valid, check.problems
    post_url = f"{site.base_url}/pat.employee/posts/1001"
    own = [p for kind, uri, p, _s in records(wacz_path) if kind == "response" and uri == post_url]
    assert own
    assert POST_TEXT.encode() in own[0]
    assert Image.open(io.BytesIO(store.get(roles["screenshot"]))).format == "PNG"
    with zipfile.ZipFile(wacz_path) as archive:
        assert "pages/pages.jsonl" in archive.namelist()

    # The PDF/A-3 snapshot shows the screenshot and carries the WACZ as an associated file.
    snapshot = api.get(f"/api/v1/posts/{post_id}/versions/1/snapshot.pdf", headers=pat.headers)
    assert snapshot.status_code == 200, snapshot.text
    embedded = pdf_attachments(snapshot.content)
    waczs = [data for name, data in embedded.items() if name.endswith(".wacz")]
    assert waczs == [store.get(roles["wacz"])]
    assert pdf_image_count(snapshot.content) >= 1
    # And the API serves the WACZ itself.
    served = api.get(f"/api/v1/posts/{post_id}/versions/1/capture.wacz", headers=pat.headers)
    assert served.status_code == 200
    assert served.content == waczs[0]

    assert capture(api, pat, post_id)["outcome"] == "unchanged"

    state.more_comments = [*MORE_COMMENTS, ("c3", "Sam Later", "Detour signs are up now.")]
    later = capture(api, pat, post_id)
    assert later["outcome"] == "new_version", later
    versions = api.get(f"/api/v1/posts/{post_id}/versions", headers=pat.headers).json()
    assert [v["number"] for v in versions] == [1, 2]
    assert "1 new reply" in (versions[1]["diff_from_previous"] or "")


def test_a_page_that_becomes_410_is_removed(
    api: TestClient, make_person: MakePerson, site: Loopback, state: SiteState
) -> None:
    pat = make_person()
    post_id = register_and_flag(api, pat, site, "/pat.employee/posts/1001")
    assert capture(api, pat, post_id)["outcome"] == "new_version"
    state.gone = 410
    gone = capture(api, pat, post_id)
    assert gone["outcome"] == "removed", gone
    assert "410" in str(gone["detail"])
    detail = api.get(f"/api/v1/posts/{post_id}", headers=pat.headers).json()
    assert detail["status"] == "removed"


def test_a_redirect_to_login_is_login_required_not_a_version(
    api: TestClient, make_person: MakePerson, site: Loopback, state: SiteState
) -> None:
    pat = make_person()
    state.login_wall = True
    post_id = register_and_flag(api, pat, site, "/pat.employee/posts/1001")
    got = capture(api, pat, post_id)
    assert got["outcome"] == "not_visible", got
    assert "login page" in str(got["detail"])
    versions = api.get(f"/api/v1/posts/{post_id}/versions", headers=pat.headers).json()
    assert versions == []


def test_content_isnt_available_on_a_recognised_site_is_removed(
    api: TestClient, make_person: MakePerson, site: Loopback, state: SiteState
) -> None:
    pat = make_person()
    post_id = register_and_flag(api, pat, site, "/pat.employee/posts/1001")
    assert capture(api, pat, post_id)["outcome"] == "new_version"
    state.unavailable_page = True
    gone = capture(api, pat, post_id)
    assert gone["outcome"] == "removed", gone
    assert "isn't available" in str(gone["detail"])


def test_a_page_outside_the_account_is_refused(
    api: TestClient, make_person: MakePerson, site: Loopback
) -> None:
    pat = make_person()
    register_and_flag(api, pat, site, "/pat.employee/posts/1001")
    r = api.post(
        "/api/v1/posts", json={"url": f"{site.base_url}/someone.else/posts/9"}, headers=pat.headers
    )
    assert r.status_code == 422
    assert "matches no supported platform" in r.json()["detail"]


def test_a_wacz_over_the_embed_size_is_named_by_hash_only(
    api: TestClient,
    make_person: MakePerson,
    site: Loopback,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pypdf import PdfReader

    from app.config import get_settings

    monkeypatch.setenv("POSTVAULT_WEB_WACZ_EMBED_MAX_BYTES", "100")
    get_settings.cache_clear()
    try:
        pat = make_person()
        post_id = register_and_flag(api, pat, site, "/pat.employee/posts/1001")
        assert capture(api, pat, post_id)["outcome"] == "new_version"
        pdf = api.get(f"/api/v1/posts/{post_id}/versions/1/snapshot.pdf", headers=pat.headers)
        assert pdf.status_code == 200, pdf.text
    finally:
        get_settings.cache_clear()
    assert not [n for n in pdf_attachments(pdf.content) if n.endswith(".wacz")]
    versions = api.get(f"/api/v1/posts/{post_id}/versions", headers=pat.headers).json()
    wacz_sha = next(m["sha256"] for m in versions[0]["media"] if m["role"] == "wacz")
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "too large to embed" in text
    assert wacz_sha[:16] in text.replace("\n", "")
