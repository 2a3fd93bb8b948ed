"""A podcast episode in a records request: its large audio is named by hash in the PDF and
travels in the response package as its own file, hashed in the bag's manifest."""

from __future__ import annotations

import hashlib
import io
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import bagit
import httpx
import pytest
from fastapi.testclient import TestClient

from app.config import Settings, get_settings
from app.db import Database
from tests.conftest import MakePerson
from tests.platforms.podcast.server import PodcastHost, tiny_mp3
from tests.platforms.podcast.test_pipeline import capture, context, flag, register, settings

__all__ = ["settings"]  # the fixture that lets the app reach the loopback podcast host


def ok(response: httpx.Response) -> Any:
    assert 200 <= response.status_code < 300, response.text
    return response.json()


def test_the_audio_is_its_own_file_in_the_package(
    client: TestClient,
    make_person: MakePerson,
    host: PodcastHost,
    settings: Settings,
    db: Database,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("POSTVAULT_AUDIO_EMBED_MAX_BYTES", "1000")
    get_settings.cache_clear()
    ctx = context(db, settings, snapshots=True)
    client.app.state.capture_context = lambda: ctx  # type: ignore[attr-defined]
    try:
        pat, officer = make_person(), make_person("records_officer")
        register(client, pat, host)
        post_id = flag(client, pat, host.episode_url)
        assert capture(client, pat, post_id)["outcome"] == "new_version"
        opened = ok(
            client.post(
                "/api/v1/requests",
                json={
                    "requester_name": None,
                    "received_at": "2026-11-20T09:30:00-06:00",
                    "description": "The Baywatch Berlin trailer episode",
                    "saved_searches": [],
                    "confirm_nothing_held": True,
                },
                headers=officer.headers,
            )
        )
        rid = opened["id"]
        ok(
            client.post(
                f"/api/v1/requests/{rid}/items",
                json={"post_ids": [post_id]},
                headers=officer.headers,
            )
        )
        started = ok(client.post(f"/api/v1/requests/{rid}/package", headers=officer.headers))
        deadline = time.monotonic() + 120
        while True:
            state = ok(
                client.get(
                    f"/api/v1/requests/{rid}/package/{started['id']}", headers=officer.headers
                )
            )
            if state["status"] in ("done", "failed"):
                break
            assert time.monotonic() < deadline, state
            time.sleep(0.2)
        assert state["status"] == "done", state["error"]
        download = client.get(
            f"/api/v1/requests/{rid}/package/{started['id']}/download", headers=officer.headers
        )
        assert download.status_code == 200
    finally:
        ctx.client.close()
        get_settings.cache_clear()

    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        archive.extractall(tmp_path / "bag")
    [root] = list((tmp_path / "bag").iterdir())
    bagit.Bag(str(root)).validate()
    sha = hashlib.sha256(tiny_mp3()).hexdigest()
    [audio] = [p for p in (root / "data" / "items").iterdir() if p.suffix == ".mp3"]
    assert audio.name.endswith(f"-audio-{sha[:12]}.mp3")
    assert audio.read_bytes() == tiny_mp3()
    [row] = json.loads((root / "data" / "manifest.json").read_text())["items"]
    assert row["media_files"] == f"data/items/{audio.name}"
    manifest = (root / "manifest-sha256.txt").read_text()
    assert f"{sha}  data/items/{audio.name}" in manifest
