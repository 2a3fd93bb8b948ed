"""The retention API: holds, post detail, AV release, schedules and disposition batches."""

from __future__ import annotations

import datetime as dt
import io

import pypdf
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.open_records.models import RecordsRequest
from app.posts.models import FlaggedPost
from app.retention import disposition
from app.retention.calendar import local_today
from app.storage.local import LocalStore
from tests.conftest import MakePerson
from tests.factories import assign, make_account, make_post


def seed(db: Database, owner_id: int, store: LocalStore | None = None) -> dict[str, int]:
    from app.auth.models import User

    with db.session() as session:
        owner = session.get(User, owner_id)
        assert owner is not None
        account = make_account(session, owner)
        pool = make_post(
            session, account=account, texts=["Pool opens at 9"], label="transitory", store=store
        )
        copy = make_post(
            session, account=account, texts=["Link to the budget"], label="secondary_copy"
        )
        for post in (pool, copy):
            assign(session, post)
        request = RecordsRequest(
            number="2026-0001",
            received_on=dt.date(2026, 1, 5),
            description="pool posts",
            created_by_id=owner_id,
        )
        session.add(request)
        session.flush()
        return {"pool": pool.id, "copy": copy.id, "request": request.id, "account": account.id}


def test_holds_place_list_release_and_post_detail(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    officer = make_person("records_officer")
    employee = make_person("employee")
    ids = seed(db, employee.user.id)

    placed = client.post(
        "/api/v1/holds",
        json={
            "kind": "open_records",
            "reason": "request 2026-0001",
            "authority": "Wis. Stat. 19.35(5)",
            "scope": {"text": "pool", "employee_id": employee.user.id},
            "request_id": ids["request"],
        },
        headers=officer.headers,
    )
    assert placed.status_code == 201, placed.text
    hold = placed.json()
    assert hold["post_ids"] == [ids["pool"]]
    assert hold["scope"] == {
        "employee_id": employee.user.id,
        "text": "pool",
        "include_disposed": False,
    }

    second = client.post(
        "/api/v1/holds",
        json={
            "kind": "litigation",
            "reason": "Doe v. City",
            "authority": "2026CV9",
            "post_ids": [ids["pool"], ids["copy"]],
        },
        headers=officer.headers,
    ).json()

    listed = client.get("/api/v1/holds?active=true", headers=officer.headers).json()
    assert [h["id"] for h in listed["items"]] == [second["id"], hold["id"]]
    by_post = client.get(f"/api/v1/holds?post_id={ids['copy']}", headers=officer.headers).json()
    assert [h["id"] for h in by_post["items"]] == [second["id"]]

    detail = client.get(f"/api/v1/posts/{ids['pool']}", headers=employee.headers).json()
    assert {h["id"] for h in detail["holds"]} == {hold["id"], second["id"]}
    assert detail["retention"]["series_code"] == "EX-SM-03"
    assert detail["retention"]["due_on"] == "2015-05-30"
    assert detail["retention"]["schedule_version"] == "2026.1"

    released = client.post(
        f"/api/v1/holds/{second['id']}/release",
        json={"reason": "case dismissed", "authority": "order of 2026-02-01"},
        headers=officer.headers,
    )
    assert released.status_code == 200, released.text
    assert released.json()["released_at"] is not None
    assert released.json()["release_reason"] == "case dismissed"
    again = client.post(
        f"/api/v1/holds/{second['id']}/release",
        json={"reason": "x", "authority": "y"},
        headers=officer.headers,
    )
    assert again.status_code == 409
    inactive = client.get("/api/v1/holds?active=false", headers=officer.headers).json()
    assert [h["id"] for h in inactive["items"]] == [second["id"]]

    # Mandamus notice: only a release with the court order's reference frees the hold.
    noticed = client.post(
        f"/api/v1/holds/{hold['id']}/mandamus",
        json={"noticed_at": "2026-02-03T15:00:00Z", "reference": "2026CV100"},
        headers=officer.headers,
    )
    assert noticed.status_code == 200, noticed.text
    assert noticed.json()["mandamus_noticed_at"].startswith("2026-02-03")
    refused = client.post(
        f"/api/v1/holds/{hold['id']}/release",
        json={"reason": "done", "authority": "19.35(5)"},
        headers=officer.headers,
    )
    assert refused.status_code == 422
    assert "court_order_ref" in refused.json()["detail"]
    ok = client.post(
        f"/api/v1/holds/{hold['id']}/release",
        json={
            "reason": "appeal final",
            "authority": "19.35(5)",
            "court_order_ref": "2026CV100 final order",
        },
        headers=officer.headers,
    )
    assert ok.status_code == 200

    actions = {
        e["action"]
        for e in client.get("/api/v1/audit?limit=200", headers=officer.headers).json()["items"]
    }
    assert {"hold.placed", "hold.released", "hold.mandamus_noticed"} <= actions


def test_bad_hold_input_gets_4xx(client: TestClient, db: Database, make_person: MakePerson) -> None:
    officer = make_person("records_officer")
    ids = seed(db, make_person().user.id)
    cases = [
        ({"kind": "whim", "reason": "r", "authority": "a", "post_ids": [ids["pool"]]}, 422, "kind"),
        (
            {"kind": "audit", "reason": " ", "authority": "a", "post_ids": [ids["pool"]]},
            422,
            "reason",
        ),
        ({"kind": "audit", "reason": "r", "authority": "a"}, 422, "names posts"),
        (
            {"kind": "audit", "reason": "r", "authority": "a", "post_ids": [99999]},
            422,
            "no post 99999",
        ),
        ({"kind": "audit", "reason": "r", "authority": "a", "scope": {}}, 422, "every post"),
        (
            {"kind": "audit", "reason": "r", "authority": "a", "scope": {"colour": "red"}},
            422,
            "colour",
        ),
        (
            {"kind": "audit", "reason": "r", "authority": "a", "scope": {"platform": "myspace"}},
            422,
            "platform",
        ),
        (
            {"kind": "open_records", "reason": "r", "authority": "a", "post_ids": [ids["pool"]]},
            422,
            "request_id",
        ),
        (
            {
                "kind": "open_records",
                "reason": "r",
                "authority": "a",
                "post_ids": [ids["pool"]],
                "request_id": 777,
            },
            422,
            "no records request 777",
        ),
    ]
    for body, code, needle in cases:
        response = client.post("/api/v1/holds", json=body, headers=officer.headers)
        assert response.status_code == code, (body, response.text)
        assert needle in response.text, (body, response.text)
    assert (
        client.post(
            "/api/v1/holds/4242/release",
            json={"reason": "r", "authority": "a"},
            headers=officer.headers,
        ).status_code
        == 404
    )
    litigation = client.post(
        "/api/v1/holds",
        json={"kind": "litigation", "reason": "r", "authority": "a", "post_ids": [ids["pool"]]},
        headers=officer.headers,
    ).json()
    mandamus = client.post(
        f"/api/v1/holds/{litigation['id']}/mandamus",
        json={"noticed_at": "2026-01-01T00:00:00Z", "reference": "x"},
        headers=officer.headers,
    )
    assert mandamus.status_code == 422
    assert client.get("/api/v1/holds?limit=0", headers=officer.headers).status_code == 422


def test_employees_get_403_everywhere(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    employee = make_person()
    ids = seed(db, employee.user.id)
    h = employee.headers
    for method, path, body in [
        (
            "POST",
            "/api/v1/holds",
            {"kind": "audit", "reason": "r", "authority": "a", "post_ids": [ids["pool"]]},
        ),
        ("GET", "/api/v1/holds", None),
        ("GET", "/api/v1/holds/1", None),
        ("POST", "/api/v1/holds/1/release", {"reason": "r", "authority": "a"}),
        (
            "POST",
            "/api/v1/holds/1/mandamus",
            {"noticed_at": "2026-01-01T00:00:00Z", "reference": "x"},
        ),
        ("GET", "/api/v1/retention/schedules", None),
        ("POST", f"/api/v1/retention/posts/{ids['copy']}/release", {"reason": "r"}),
        ("GET", "/api/v1/disposition/batches", None),
        ("GET", "/api/v1/disposition/batches/1", None),
        ("POST", "/api/v1/disposition/batches/1/approve", {"authority": "a"}),
        ("POST", "/api/v1/disposition/batches/1/whs-reply", {"reference": "a"}),
        ("POST", "/api/v1/disposition/batches/1/run", None),
        ("GET", "/api/v1/disposition/batches/1/certificate", None),
    ]:
        response = client.request(method, path, json=body, headers=h)
        assert response.status_code == 403, (path, response.text)
    assert client.get("/api/v1/holds").status_code == 401


def test_schedules_and_av_release(
    client: TestClient, db: Database, make_person: MakePerson
) -> None:
    officer = make_person("records_officer")
    ids = seed(db, make_person().user.id)
    series = client.get("/api/v1/retention/schedules", headers=officer.headers).json()
    chosen = {s["code"] for s in series if s["chosen_for_label"]}
    assert chosen == {"EX-SM-01", "EX-SM-02", "EX-SM-03"}
    assert any(s["code"] == "GS50-01-12" and not s["chosen_for_label"] for s in series)

    released = client.post(
        f"/api/v1/retention/posts/{ids['copy']}/release",
        json={"reason": "the budget book is kept"},
        headers=officer.headers,
    )
    assert released.status_code == 200, released.text
    assert released.json()["due_on"] == local_today().isoformat()
    not_av = client.post(
        f"/api/v1/retention/posts/{ids['pool']}/release",
        json={"reason": "x"},
        headers=officer.headers,
    )
    assert not_av.status_code == 409


def test_disposition_batch_flow_over_the_api(
    client: TestClient, db: Database, make_person: MakePerson, settings: Settings
) -> None:
    officer = make_person("records_officer")
    store = LocalStore(settings.archive_dir)
    ids = seed(db, make_person().user.id, store=store)
    with db.session() as session:
        from app.audit.service import Actor

        batch = disposition.propose_batch(session, actor=Actor.system("t"), today=local_today())
        assert batch is not None
        batch_id = batch.id
    listed = client.get("/api/v1/disposition/batches", headers=officer.headers).json()
    assert [b["id"] for b in listed["items"]] == [batch_id]
    assert listed["items"][0]["item_count"] == 1
    detail = client.get(f"/api/v1/disposition/batches/{batch_id}", headers=officer.headers).json()
    assert [i["post_id"] for i in detail["items"]] == [ids["pool"]]
    assert "only an approved batch" in (detail["blocked_because"] or "")

    early = client.post(f"/api/v1/disposition/batches/{batch_id}/run", headers=officer.headers)
    assert early.status_code == 409
    assert (
        client.post(
            f"/api/v1/disposition/batches/{batch_id}/approve", json={}, headers=officer.headers
        ).status_code
        == 422
    )
    approved = client.post(
        f"/api/v1/disposition/batches/{batch_id}/approve",
        json={"authority": "schedule EX-SM-03"},
        headers=officer.headers,
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert approved.json()["blocked_because"] is None
    assert (
        client.post(
            f"/api/v1/disposition/batches/{batch_id}/approve",
            json={"authority": "again"},
            headers=officer.headers,
        ).status_code
        == 409
    )

    ran = client.post(f"/api/v1/disposition/batches/{batch_id}/run", headers=officer.headers)
    assert ran.status_code == 200, ran.text
    body = ran.json()
    assert body["status"] == "completed"
    assert body["destroyed"] == [ids["pool"]]
    certificate = client.get(
        f"/api/v1/disposition/batches/{batch_id}/certificate", headers=officer.headers
    )
    assert certificate.status_code == 200
    assert certificate.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(certificate.content)).pages)
    assert "Certificate of destruction" in text
    post = client.get(f"/api/v1/posts/{ids['pool']}", headers=officer.headers).json()
    assert post["status"] == "disposed"
    assert all(v["text"] is None for v in post["versions"])
    assert client.get("/api/v1/disposition/batches/999", headers=officer.headers).status_code == 404
    assert (
        client.get("/api/v1/disposition/batches?status=bogus", headers=officer.headers).status_code
        == 422
    )


def test_whs_notice_and_reply_over_the_api(
    client: TestClient, db: Database, make_person: MakePerson, settings: Settings
) -> None:
    from app.audit.service import Actor

    officer = make_person("records_officer")
    with db.session() as session:
        from app.auth.models import User

        owner = session.get(User, make_person().user.id)
        assert owner is not None
        account = make_account(session, owner)
        removed = make_post(
            session,
            account=account,
            label="record",
            removed_at=dt.datetime(2016, 1, 1, tzinfo=dt.UTC),
            store=LocalStore(settings.archive_dir),
        )
        assign(session, removed)
        batch = disposition.propose_batch(session, actor=Actor.system("t"), today=local_today())
        assert batch is not None
        batch_id = batch.id
    base = f"/api/v1/disposition/batches/{batch_id}"
    missing = client.post(f"{base}/approve", json={"authority": "a"}, headers=officer.headers)
    assert missing.status_code == 422
    assert "whs_notice_on" in missing.json()["detail"]
    future = (local_today() + dt.timedelta(days=3)).isoformat()
    assert (
        client.post(
            f"{base}/approve",
            json={"authority": "a", "whs_notice_on": future},
            headers=officer.headers,
        ).status_code
        == 422
    )
    notice = local_today() - dt.timedelta(days=20)
    approved = client.post(
        f"{base}/approve",
        json={"authority": "RDA", "whs_notice_on": notice.isoformat()},
        headers=officer.headers,
    ).json()
    assert approved["whs_series"] == ["EX-SM-01"]
    assert approved["runnable_on"] == (notice + dt.timedelta(days=60)).isoformat()
    assert "waits 60 days" in approved["blocked_because"]
    blocked = client.post(f"{base}/run", headers=officer.headers)
    assert blocked.status_code == 409
    replied = client.post(
        f"{base}/whs-reply", json={"reference": "WHS letter 2026-14"}, headers=officer.headers
    )
    assert replied.status_code == 200
    assert replied.json()["whs_reply_ref"] == "WHS letter 2026-14"
    assert client.post(f"{base}/run", headers=officer.headers).status_code == 409
    with db.session() as session:
        still = session.get(FlaggedPost, removed.id)
        assert still is not None
        assert still.status != "disposed"
