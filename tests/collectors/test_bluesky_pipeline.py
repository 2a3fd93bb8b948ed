"""The issue-3 scenario through the whole capture path, against the real PDS on loopback:
flag, capture, edit with putRecord, capture, delete, capture: three versions, removed_at set,
media archived, every step audited."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.accounts.models import SocialAccount
from app.audit.models import AuditEvent
from app.collectors.service import CaptureContext
from app.config import Settings
from app.db import Database
from app.pipeline import build_capture_context
from app.storage.local import LocalStore
from tests.collectors.atproto_network import AtprotoClient, AtprotoNetwork, tiny_png, wait_until
from tests.conftest import MakePerson

pytestmark = pytest.mark.atproto


@pytest.fixture
def bsky_ctx(
    db: Database, settings: Settings, atproto_network: AtprotoNetwork
) -> Iterator[CaptureContext]:
    assert atproto_network.appview is not None
    configured = settings.model_copy(
        update={
            "fetch_allow_hosts": "127.0.0.1:*",
            "bluesky_resolver_url": atproto_network.pds,
            "bluesky_plc_url": atproto_network.plc,
            "bluesky_appview_url": atproto_network.appview,
        }
    )
    context = build_capture_context(
        db, configured, store=LocalStore(settings.archive_dir), worker="bsky-test"
    )
    yield context
    context.client.close()


def test_flag_capture_edit_delete_through_the_pipeline(
    client: TestClient,
    make_person: MakePerson,
    atp: AtprotoClient,
    bsky_ctx: CaptureContext,
    db: Database,
    settings: Settings,
) -> None:
    client.app.state.capture_context = lambda: bsky_ctx  # type: ignore[attr-defined]
    clerk = atp.create_account("pipeclerk")
    resident = atp.create_account("piperesident")
    blob = atp.upload_blob(clerk, tiny_png((1, 2, 3)), "image/png")
    record = {
        "text": "Snow emergency: parking ban on Main St from 9pm.",
        "embed": {
            "$type": "app.bsky.embed.images",
            "images": [{"alt": "map of Main St", "image": blob}],
        },
    }
    post = atp.create_record(clerk, record)
    reply = atp.create_record(
        resident,
        {"text": "Does this include Elm?", "reply": {"root": post.strong, "parent": post.strong}},
    )
    wait_until(
        lambda: (
            True
            if any(
                r.get("post", {}).get("uri") == reply.uri
                for r in ((atp.thread(post.uri) or {}).get("replies") or [])
            )
            else None
        ),
        what="the AppView to index the reply",
    )

    employee = make_person()
    r = client.post(
        "/api/v1/accounts",
        json={"platform": "bluesky", "handle": clerk.handle},
        headers=employee.headers,
    )
    assert r.status_code == 201, r.text
    account_id = r.json()["id"]
    r = client.post(
        "/api/v1/posts",
        json={"url": f"https://bsky.app/profile/{clerk.handle}/post/{post.rkey}"},
        headers=employee.headers,
    )
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]

    def capture() -> dict[str, object]:
        answer = client.post(f"/api/v1/posts/{post_id}/capture", headers=employee.headers)
        assert answer.status_code == 200, answer.text
        data: dict[str, object] = answer.json()
        return data

    assert capture()["outcome"] == "new_version"
    atp.put_post(
        clerk,
        post.rkey,
        {**record, "text": "Snow emergency: parking ban on Main St and Elm St from 9pm."},
    )
    assert capture()["outcome"] == "new_version"
    atp.delete_post(clerk, post.rkey)
    assert capture()["outcome"] == "removed"

    versions = client.get(f"/api/v1/posts/{post_id}/versions", headers=employee.headers).json()
    assert [v["kind"] for v in versions] == ["capture", "capture", "removal"]
    assert versions[0]["platform_version_id"] != versions[1]["platform_version_id"]  # the CIDs
    assert "Elm St" in versions[1]["text"]
    assert "Elm St" not in versions[0]["text"]
    assert versions[0]["replies_captured"] is True
    image = next(m for m in versions[0]["media"] if m["role"] == "image")
    assert image["alt_text"] == "map of Main St"
    assert LocalStore(settings.archive_dir).get(image["sha256"]) == tiny_png((1, 2, 3))
    detail = client.get(f"/api/v1/posts/{post_id}", headers=employee.headers).json()
    assert detail["status"] == "removed"
    assert detail["removed_at"] is not None
    with db.session() as session:
        account = session.get(SocialAccount, account_id)
        assert account is not None
        assert account.platform_account_id == clerk.did
        actions = list(
            session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == str(post_id)))
        )
    assert actions.count("capture.version_added") == 3
    assert "capture.removed" in actions
