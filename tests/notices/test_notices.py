"""Email notices through a real SMTP server on loopback (aiosmtpd) that requires STARTTLS
with a certificate made by the test and a login: who is told what, once; daily digests;
retries while the server is down; nothing sent without SMTP settings; no secret anywhere."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import logging
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.audit.service import Actor
from app.auth.models import User
from app.config import Settings
from app.db import Database, utcnow
from app.notices import service
from app.notices.jobs import notices_job
from app.notices.models import Notice, NoticePreference, NoticeStatus
from app.open_records.models import RecordsRequest
from app.posts.models import FlaggedPost, PostStatus
from app.retention.models import DispositionBatch
from app.storage.models import FixityCheck, StoredObject
from tests.conftest import MakePerson, Person
from tests.web.support import employee_with_post

SMTP_USER = "postvault"
SMTP_PASSWORD = "smtp-pass-9d1e-never-logged"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Inbox:
    messages: list[Message] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


def _authenticate(*args: Any) -> AuthResult:
    auth_data = args[-1]  # (server, session, envelope, mechanism, auth_data)
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == SMTP_USER.encode()
        and auth_data.password == SMTP_PASSWORD.encode()
    )
    return AuthResult(success=ok)


@dataclass
class MailServer:
    port: int
    inbox: Inbox
    ca_file: Path
    controller: Controller | None = None

    def start(self, tls: ssl.SSLContext) -> None:
        self.controller = Controller(
            self.inbox,
            hostname="127.0.0.1",
            port=self.port,
            tls_context=tls,
            require_starttls=True,
            authenticator=_authenticate,
            auth_required=True,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[MailServer]:
    cert, key = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    server = MailServer(free_port(), Inbox(), cert)
    server.start(_server_tls(server))
    yield server
    server.stop()


@pytest.fixture
def mail_settings(settings: Settings, mail_server: MailServer) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": mail_server.port,
            "smtp_username": SMTP_USER,
            "smtp_password": SecretStr(SMTP_PASSWORD),
            "smtp_ca_file": mail_server.ca_file,
            "smtp_from": "records@city.example",
            "public_url": "https://archive.city.example",
        }
    )


def _set_up_conditions(db: Database, make_person: MakePerson) -> tuple[Person, Person, int]:
    """An employee whose post fails for two days and another post that was removed; an
    overdue request, a proposed batch whose WHS reply period passed, a failed fixity check."""
    ann, failing_id = employee_with_post(db, make_person)
    officer = make_person("records_officer")
    make_person("admin")  # admins are not sent the officers' notices
    now = utcnow()
    with db.session() as session:
        failing = session.get(FlaggedPost, failing_id)
        assert failing is not None
        failing.status = PostStatus.failing
        failing.flagged_at = now - dt.timedelta(days=3)
        failing.last_captured_at = now - dt.timedelta(days=2)
        failing.last_error = "HTTP 503 from the platform"
        removed = FlaggedPost(
            account_id=failing.account_id,
            flagged_by_id=ann.user.id,
            url="https://bsky.app/profile/ann.bsky.social/post/3l6oveex3ii2m",
            platform="bluesky",
            external_id="at://ann.bsky.social/app.bsky.feed.post/3l6oveex3ii2m",
            status=PostStatus.removed,
            removed_at=now - dt.timedelta(hours=1),
        )
        session.add(removed)
        session.add(
            RecordsRequest(
                number="2026-0042",
                received_on=(now - dt.timedelta(days=40)).date(),
                description="Posts about the snow emergency",
                created_by_id=officer.user.id,
            )
        )
        session.add(
            DispositionBatch(status="proposed", whs_notice_on=(now - dt.timedelta(days=61)).date())
        )
        session.add(StoredObject(sha256="ab" * 32, size=1, mime_type="image/png", kind="media"))
        session.flush()
        session.add(FixityCheck(sha256="ab" * 32, ok=False, problem="missing"))
    return ann, officer, failing_id


def test_each_person_is_told_once(
    db: Database, make_person: MakePerson, mail_settings: Settings, mail_server: MailServer,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    caplog.set_level(logging.DEBUG)
    ann, officer, failing_id = _set_up_conditions(db, make_person)
    notices_job(db, mail_settings)

    to_ann = sorted(m["Subject"] for m in mail_server.inbox.to(ann.user.email))
    assert to_ann == [
        f"Capture of your post {failing_id} keeps failing",
        f"Your flagged post {failing_id + 1} was removed from bluesky",
    ]
    failing_mail = next(
        m for m in mail_server.inbox.to(ann.user.email) if "failing" in m["Subject"]
    )
    body = failing_mail.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert b"HTTP 503 from the platform" in body
    assert f"https://archive.city.example/posts/{failing_id}".encode() in body
    assert failing_mail["From"] == "records@city.example"

    to_officer = sorted(m["Subject"] for m in mail_server.inbox.to(officer.user.email))
    assert len(to_officer) == 4
    assert to_officer[0] == "Disposition batch 1 waits for approval"
    assert to_officer[1] == "Fixity check failed: object abababababab… is missing"
    # 40 calendar days back is 26 to 28 business days, by the weekday and holidays.
    assert to_officer[2].startswith("Request 2026-0042 is overdue (")
    assert to_officer[3] == "WHS reply period of disposition batch 1 has passed"
    assert len(mail_server.inbox.messages) == 6  # nobody else was written to

    # A second run finds the same conditions and sends nothing new.
    notices_job(db, mail_settings)
    assert len(mail_server.inbox.messages) == 6
    with db.session() as session:
        notices = list(session.scalars(select(Notice)))
        assert len(notices) == 6
        assert {n.status for n in notices} == {NoticeStatus.sent}
        sent_events = list(
            session.scalars(select(AuditEvent).where(AuditEvent.action == "notice.sent"))
        )
        assert len(sent_events) == 6
        everything = " ".join(
            [e.details.__repr__() for e in session.scalars(select(AuditEvent))]
            + [n.body + (n.last_error or "") for n in notices]
        )
    assert SMTP_PASSWORD not in everything
    assert SMTP_PASSWORD not in caplog.text


def test_daily_digest_is_one_mail_a_day(
    db: Database, make_person: MakePerson, mail_settings: Settings, mail_server: MailServer
) -> None:
    _ann, officer, _ = _set_up_conditions(db, make_person)
    with db.session() as session:
        user = session.get(User, officer.user.id)
        assert user is not None
        service.set_preference(session, user=user, delivery="daily_digest", actor=Actor.of(user))
    notices_job(db, mail_settings)
    digests = mail_server.inbox.to(officer.user.email)
    assert [m["Subject"] for m in digests] == ["PostVault daily digest: 4 notices"]
    text = digests[0].get_payload(decode=True)
    assert isinstance(text, bytes)
    assert b"Disposition batch 1 waits for approval" in text
    assert b"Fixity check failed" in text

    # A new condition the same day waits for tomorrow's digest.
    with db.session() as session:
        session.add(StoredObject(sha256="cd" * 32, size=1, mime_type="image/png", kind="media"))
        session.flush()
        session.add(FixityCheck(sha256="cd" * 32, ok=False, problem="mismatch"))
    notices_job(db, mail_settings)
    assert len(mail_server.inbox.to(officer.user.email)) == 1
    with db.session() as session:
        pref = session.get(NoticePreference, officer.user.id)
        assert pref is not None
        assert pref.last_digest_at is not None
        pref.last_digest_at -= dt.timedelta(days=1, minutes=1)
    notices_job(db, mail_settings)
    later = mail_server.inbox.to(officer.user.email)
    assert [m["Subject"] for m in later][-1] == "PostVault daily digest: 1 notices"


def test_server_down_means_retry_later(
    db: Database, make_person: MakePerson, mail_settings: Settings, mail_server: MailServer
) -> None:
    ann, _officer, _ = _set_up_conditions(db, make_person)
    mail_server.stop()
    notices_job(db, mail_settings)  # never raises: the job logs and retries later
    with db.session() as session:
        notices = list(session.scalars(select(Notice)))
        assert len(notices) == 6
        assert {n.status for n in notices} == {NoticeStatus.pending}
        assert all(n.attempts == 1 and n.last_error for n in notices)
        assert all(n.next_attempt_at and n.next_attempt_at > utcnow() for n in notices)
        assert SMTP_PASSWORD not in " ".join(n.last_error or "" for n in notices)
    mail_server.start(_server_tls(mail_server))
    notices_job(db, mail_settings)
    assert mail_server.inbox.messages == []  # not yet: the back-off has not passed
    with db.session() as session:
        later = utcnow() + dt.timedelta(minutes=6)
        from app.notices.mail import SmtpConfig, send_mails

        config = SmtpConfig.from_settings(mail_settings)
        assert config is not None
        report = service.deliver(session, send=lambda mails: send_mails(config, mails), now=later)
    assert report.sent == 6
    assert len(mail_server.inbox.to(ann.user.email)) == 2


def _server_tls(server: MailServer) -> ssl.SSLContext:
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(server.ca_file, server.ca_file.with_suffix(".key"))
    return tls


def test_nothing_without_smtp_settings(
    db: Database, make_person: MakePerson, settings: Settings
) -> None:
    _set_up_conditions(db, make_person)
    notices_job(db, settings)
    with db.session() as session:
        assert list(session.scalars(select(Notice))) == []


def test_preference_by_api(client: TestClient, make_person: MakePerson) -> None:
    ann = make_person()
    got = client.get("/api/v1/me/notices", headers=ann.headers)
    assert got.status_code == 200
    assert got.json() == {"delivery": "immediate", "recent": []}
    bad = client.put("/api/v1/me/notices", json={"delivery": "hourly"}, headers=ann.headers)
    assert bad.status_code == 422
    put = client.put("/api/v1/me/notices", json={"delivery": "daily_digest"}, headers=ann.headers)
    assert put.status_code == 200
    assert put.json()["delivery"] == "daily_digest"
    assert client.get("/api/v1/me/notices").status_code == 401
