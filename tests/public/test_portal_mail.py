"""The tracking link and the officer's messages are emailed through a real SMTP server on
loopback (aiosmtpd) when the requester gave an email address and SMTP is set; nothing is
mailed without an address, and a mail server that is down loses nothing."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.main import create_app
from app.public.models import PortalMessage
from tests.conftest import MakePerson
from tests.notices.test_notices import Inbox
from tests.public.helpers import file_request, request_id_of
from tests.web.support import csrf_of, give_password, sign_in


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    box, port = Inbox(), _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def _text(mail: Message) -> str:
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def _mailing(settings: Settings, port: int) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_starttls": False,
            "smtp_from": "records@city.example",
            "public_url": "http://records.city.example",
        }
    )


def test_the_link_and_messages_are_emailed_to_an_email_contact(
    settings: Settings, db: Database, make_person: MakePerson, inbox: tuple[Inbox, int]
) -> None:
    box, port = inbox
    with TestClient(create_app(_mailing(settings, port), database=db)) as client:
        path, number = file_request(client, contact="pat@example.org")
        (mail,) = box.to("pat@example.org")
        assert number in mail["Subject"]
        body = _text(mail)
        assert f"http://records.city.example{path}" in body
        # No address, no mail.
        file_request(client, contact="call 555 0100 after six")
        assert len(box.messages) == 1

        officer = make_person("records_officer")
        give_password(db, officer.user)
        sign_in(client, officer.user.email)
        request_id = request_id_of(db, number)
        page = client.get(f"/officer/requests/{request_id}")
        sent = client.post(
            f"/officer/requests/{request_id}/portal/message",
            data={"body": "Two posts found.", "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert sent.headers["location"].endswith("done=portal-message-mailed#portal")
        assert "Two posts found." in _text(box.to("pat@example.org")[-1])
    with db.session() as session:
        (message,) = session.scalars(select(PortalMessage))
        assert message.emailed_at is not None


def test_a_mail_server_that_is_down_loses_nothing(
    settings: Settings, db: Database, make_person: MakePerson
) -> None:
    with TestClient(create_app(_mailing(settings, _free_port()), database=db)) as client:
        page = client.get("/public/request")
        answer = client.post(
            "/public/request",
            data={
                "description": "Pool posts",
                "contact": "pat@example.org",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert answer.status_code == 201
        assert "could not be emailed" in answer.text
        assert 'id="tracking-link"' in answer.text
        officer = make_person("records_officer")
        give_password(db, officer.user)
        sign_in(client, officer.user.email)
        page = client.get("/officer/requests/1")
        sent = client.post(
            "/officer/requests/1/portal/message",
            data={"body": "Hello.", "csrf_token": csrf_of(page.text)},
            follow_redirects=False,
        )
        assert sent.headers["location"].endswith("done=portal-message-unmailed#portal")
    with db.session() as session:
        (message,) = session.scalars(select(PortalMessage))
        assert message.email_error
        assert message.emailed_at is None
