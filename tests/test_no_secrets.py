"""No secret PostVault is given (SMTP password, SSO client secret, metrics token, secrets
key, a platform access token) appears in its logs, its metrics, its audit log, its database
in clear, or any answer — including the error paths that are most likely to quote them."""

from __future__ import annotations

import json
import logging

import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select, text

from app.audit.models import AuditEvent
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.notices.jobs import notices_job
from app.storage.models import FixityCheck, StoredObject
from tests.conftest import MakePerson
from tests.test_serve import free_port

SMTP_PASSWORD = "smtp-secret-5c1d77"
CLIENT_SECRET = "oidc-secret-a93e01"
METRICS_TOKEN = "metrics-secret-0b6f42"
ACCESS_TOKEN = "platform-token-77de19"


def test_secrets_stay_out_of_logs_metrics_audit_and_answers(
    settings: Settings, db: Database, make_person: MakePerson, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets_key = Fernet.generate_key().decode()
    closed = free_port()  # nothing listens: the error paths run
    configured = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": closed,
            "smtp_username": "postvault",
            "smtp_password": SecretStr(SMTP_PASSWORD),
            "oidc_issuer": f"http://127.0.0.1:{closed}",
            "oidc_client_id": "postvault",
            "oidc_client_secret": SecretStr(CLIENT_SECRET),
            "metrics_token": SecretStr(METRICS_TOKEN),
            "secrets_key": SecretStr(secrets_key),
        }
    )
    app = create_app(configured, database=db)
    officer = make_person("records_officer")
    seen: list[str] = []
    with TestClient(app, raise_server_exceptions=False) as client:
        registered = client.post(
            "/api/v1/accounts",
            json={
                "platform": "mastodon",
                "handle": "parks@mastodon.social",
                "access_token": ACCESS_TOKEN,
            },
            headers=officer.headers,
        )
        assert registered.status_code == 201, registered.text
        seen.append(registered.text)
        seen.append(client.get("/api/v1/accounts", headers=officer.headers).text)
        metrics = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert metrics.status_code == 200
        seen.append(metrics.text)
        seen.append(client.get("/metrics", headers={"Authorization": "Bearer wrong"}).text)
        sso = client.get("/login/oidc", follow_redirects=False)  # the provider is unreachable
        assert sso.status_code == 503
        seen.append(sso.text)
        for path in ("/healthz", "/openapi.json", "/api/v1/audit", "/api/v1/me/notices"):
            seen.append(client.get(path, headers=officer.headers).text)
        seen.append(json.dumps(dict(client.get("/healthz").headers)))
    with db.session() as session:  # something to tell the officer, so a mail is tried
        session.add(StoredObject(sha256="ab" * 32, size=1, mime_type="image/png", kind="media"))
        session.flush()
        session.add(FixityCheck(sha256="ab" * 32, ok=False, problem="missing"))
    notices_job(db, configured)  # the mail server is down: the failure is logged and kept
    with db.session() as session:
        audit = [repr(e.details) for e in session.scalars(select(AuditEvent))]
        stored = session.execute(text("SELECT access_token FROM social_accounts")).scalars().all()
        notices = session.execute(text("SELECT body, last_error FROM notices")).all()
    haystack = "\n".join(
        [*seen, caplog.text, *audit, *[str(v) for v in stored], *[repr(n) for n in notices]]
    )
    for secret in (SMTP_PASSWORD, CLIENT_SECRET, METRICS_TOKEN, secrets_key, ACCESS_TOKEN):
        assert secret not in haystack, secret
    assert stored
    assert all(str(v).startswith("gAAAAA") for v in stored)  # Fernet, not clear
    assert notices
    assert all(last_error for _body, last_error in notices)  # the mail was tried and failed
