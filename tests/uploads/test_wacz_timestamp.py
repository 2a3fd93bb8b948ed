"""A web archive gets its own RFC 3161 timestamp: an uploaded WACZ, a real TSA on loopback
(`openssl ts -reply`, tests/tsa.py), `capture.wacz.tsr` verified with `openssl ts -verify`
against exactly the bytes `capture.wacz` serves."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.pipeline import build_capture_context
from app.storage.local import LocalStore
from tests.conftest import MakePerson
from tests.tsa import LoopbackTSA, running_tsa
from tests.uploads.test_uploads import SIGNED_WACZ, flagged, upload


@pytest.fixture
def tsa(tmp_path: Path) -> Iterator[LoopbackTSA]:
    with running_tsa(tmp_path / "tsa") as server:
        yield server


@pytest.fixture
def stamped_api(settings: Settings, db: Database, tsa: LoopbackTSA) -> Iterator[TestClient]:
    with_tsa = settings.model_copy(update={"tsa_url": tsa.url, "tsa_ca_file": tsa.ca_file})
    app = create_app(with_tsa, database=db)
    ctx = build_capture_context(
        db, with_tsa, store=LocalStore(with_tsa.archive_dir), worker="upload-test"
    )
    app.state.capture_context = lambda: ctx
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    ctx.client.close()


def test_an_uploaded_wacz_is_timestamped(
    stamped_api: TestClient, make_person: MakePerson, tsa: LoopbackTSA, tmp_path: Path
) -> None:
    pat = make_person()
    post_id = flagged(stamped_api, pat)
    status, body = upload(stamped_api, pat, post_id, "capture.wacz", SIGNED_WACZ.read_bytes())
    assert status == 201, body
    base = f"/api/v1/posts/{post_id}/versions/{body['version_number']}"
    wacz = stamped_api.get(f"{base}/capture.wacz", headers=pat.headers)
    assert wacz.status_code == 200
    reply = stamped_api.get(f"{base}/capture.wacz.tsr", headers=pat.headers)
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/timestamp-reply"
    (tmp_path / "capture.wacz").write_bytes(wacz.content)
    (tmp_path / "capture.wacz.tsr").write_bytes(reply.content)
    checked = subprocess.run(
        [
            "openssl", "ts", "-verify", "-data", str(tmp_path / "capture.wacz"),
            "-in", str(tmp_path / "capture.wacz.tsr"), "-CAfile", str(tsa.ca_file),
        ],
        capture_output=True,
        text=True,
        check=False,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "Verification: OK" in checked.stdout
    # Another employee cannot read it, as for the WACZ itself.
    other = make_person()
    assert stamped_api.get(f"{base}/capture.wacz.tsr", headers=other.headers).status_code == 404
