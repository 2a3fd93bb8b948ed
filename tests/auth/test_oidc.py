"""Single sign-on against a real OpenID Connect provider on loopback (npm's oidc-provider):
a good sign-in, a wrong state, a replayed code, an expired ID token, a wrong audience, a
person outside the allowed domains, a group change between two sign-ins, passwords off, and
sign-out at the provider."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.auth.models import User, UserIdentity
from app.auth.oidc import PENDING_COOKIE, OidcClient, SignInFailed
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.web.security import load_secret_key
from tests.oidc_provider import OidcProvider, oidc_provider, sign_in_at_provider, web_client

SECRET = "client-secret-for-tests-c41b"
APP = "http://testserver"
CALLBACK = f"{APP}/login/oidc/callback"
ACCOUNTS = {
    "ann": {"email": "ann@city.example", "email_verified": True, "name": "Ann Lee", "groups": []},
    "olive": {
        "email": "olive@city.example",
        "email_verified": True,
        "name": "Olive Officer",
        "groups": ["pv-officers"],
    },
    "mallory": {"email": "mallory@elsewhere.example", "email_verified": True, "groups": []},
}


def clients() -> list[dict[str, object]]:
    return [
        web_client("postvault", SECRET, CALLBACK, f"{APP}/login?signed_out=1"),
        web_client("other-app", SECRET, "http://other.test/cb"),
    ]


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[OidcProvider]:
    with oidc_provider(tmp_path, clients=clients(), accounts=ACCOUNTS) as running:
        yield running


def sso_settings(settings: Settings, provider: OidcProvider, **changes: object) -> Settings:
    return settings.model_copy(
        update={
            "oidc_issuer": provider.issuer,
            "oidc_client_id": "postvault",
            "oidc_client_secret": SecretStr(SECRET),
            "oidc_provider_name": "City Login",
            "oidc_allowed_domains": "city.example",
            "oidc_officer_groups": "pv-officers",
            "oidc_admin_groups": "pv-admins",
            **changes,
        }
    )


@pytest.fixture
def sso(settings: Settings, db: Database, provider: OidcProvider) -> Iterator[TestClient]:
    app = create_app(sso_settings(settings, provider), database=db)
    with TestClient(app, base_url=APP, follow_redirects=False) as client:
        yield client


def start(client: TestClient, login: str) -> str:
    """Start a sign-in and walk the provider's pages: the callback URL it sends back."""
    begun = client.get("/login/oidc")
    assert begun.status_code == 303, begun.text
    back = sign_in_at_provider(begun.headers["location"], login=login)
    assert back.startswith(CALLBACK), back
    return back.removeprefix(APP)


def signed_in_as(client: TestClient) -> str | None:
    page = client.get("/posts")
    if page.status_code != 200:
        return None
    text: str = page.text
    return text


def test_sign_in_page_offers_the_provider(sso: TestClient) -> None:
    page = sso.get("/login")
    assert "Sign in with City Login" in page.text
    assert 'name="password"' in page.text  # local passwords stay for bootstrap


def test_good_sign_in_creates_an_employee(sso: TestClient, db: Database) -> None:
    done = sso.get(start(sso, "ann"))
    assert done.status_code == 303
    assert done.headers["location"] == "/"
    page = signed_in_as(sso)
    assert page is not None
    assert "Ann Lee" in page
    with db.session() as session:
        user = session.scalars(select(User).where(User.email == "ann@city.example")).one()
        assert user.role == "employee"
        identity = session.scalars(select(UserIdentity)).one()
        assert identity.user_id == user.id
        assert identity.subject == "ann"
        actions = [e.action for e in session.scalars(select(AuditEvent))]
        assert "user.identity_linked" in actions
        assert "user.signed_in_sso" in actions
        text = " ".join(repr(e.details) for e in session.scalars(select(AuditEvent)))
    assert SECRET not in text


def test_wrong_state_is_refused(sso: TestClient, db: Database) -> None:
    callback = start(sso, "ann")
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["state"] = "not-the-state-we-sent"
    refused = sso.get(f"{parts.path}?{urlencode(query)}")
    assert refused.status_code == 400
    assert "does not belong to this sign-in" in refused.text
    assert signed_in_as(sso) is None
    with db.session() as session:
        assert session.scalars(select(User)).all() == []


def test_a_replayed_code_signs_nobody_in(sso: TestClient) -> None:
    begun = sso.get("/login/oidc")
    pending = begun.cookies[PENDING_COOKIE]
    back = sign_in_at_provider(begun.headers["location"], login="ann").removeprefix(APP)
    assert sso.get(back).status_code == 303
    sso.post("/logout", data={"csrf_token": _csrf(sso)})
    sso.cookies.set(PENDING_COOKIE, pending, path="/login/oidc")
    again = sso.get(back)
    assert again.status_code == 400
    assert "refused the code" in again.text
    assert signed_in_as(sso) is None


def _csrf(client: TestClient) -> str:
    from tests.web.support import csrf_of

    return csrf_of(client.get("/posts").text)


def test_person_outside_the_allowed_domains(sso: TestClient, db: Database) -> None:
    refused = sso.get(start(sso, "mallory"))
    assert refused.status_code == 403
    assert "elsewhere.example cannot use this PostVault" in refused.text
    with db.session() as session:
        assert session.scalars(select(User)).all() == []


def test_groups_are_read_again_at_every_sign_in(
    sso: TestClient, db: Database, provider: OidcProvider
) -> None:
    assert sso.get(start(sso, "olive")).status_code == 303
    assert sso.get("/officer").status_code == 200  # records officer from the group
    provider.set_account("olive", **{**ACCOUNTS["olive"], "groups": []})
    # Removed from the group at the provider: the next sign-in makes her an employee, and the
    # role change ends the session she had.
    second = TestClient(sso.app, base_url=APP, follow_redirects=False)
    assert second.get(start(second, "olive")).status_code == 303
    with db.session() as session:
        olive = session.scalars(select(User).where(User.email == "olive@city.example")).one()
        assert olive.role == "employee"
        assert len(session.scalars(select(UserIdentity)).all()) == 1  # the same person
    assert second.get("/officer").status_code in (403, 404)
    assert sso.get("/officer").status_code == 303  # the old session ended: sign in again


def test_expired_id_token_is_refused(settings: Settings, provider: OidcProvider) -> None:
    # A real ID token, shown to PostVault two hours after the provider issued it (a token
    # captured and replayed later): refused; within the clock-skew leeway it is accepted.
    config = sso_settings(settings, provider, oidc_clock_skew_seconds=60)
    client = OidcClient(config, load_secret_key(config))
    token = _token_for(provider, "postvault", CALLBACK, nonce="n-2")
    issued = client.validate_id_token(token, nonce="n-2")
    assert issued["sub"] == "ann"
    with pytest.raises(SignInFailed, match="expired"):
        client.validate_id_token(token, nonce="n-2", now=time.time() + 7200)
    # A token "issued" in the future beyond the leeway is refused too.
    skewed = int(issued["iat"]) - 600
    with pytest.raises(SignInFailed, match="not valid"):
        client.validate_id_token(token, nonce="n-2", now=skewed)


def _token_for(provider: OidcProvider, client_id: str, redirect_uri: str, *, nonce: str) -> str:
    """An ID token the provider issues to `client_id` after a real sign-in."""
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid email",
        "state": "s",
        "nonce": nonce,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    back = sign_in_at_provider(f"{provider.issuer}/auth?{urlencode(query)}", login="ann")
    code = parse_qs(urlsplit(back).query)["code"][0]
    token = httpx.post(
        f"{provider.issuer}/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        },
        auth=(client_id, SECRET),
    )
    assert token.status_code == 200, token.text
    id_token: str = token.json()["id_token"]
    return id_token


def test_id_token_for_another_audience_is_refused(
    settings: Settings, provider: OidcProvider
) -> None:
    config = sso_settings(settings, provider)
    client = OidcClient(config, load_secret_key(config))
    token = _token_for(provider, "other-app", "http://other.test/cb", nonce="n-1")
    with pytest.raises(SignInFailed, match="aud"):
        client.validate_id_token(token, nonce="n-1")
    # The same kind of token with the right audience would pass: the check is the audience.
    other = OidcClient(config.model_copy(update={"oidc_client_id": "other-app"}), "k")
    assert other.validate_id_token(token, nonce="n-1")["sub"] == "ann"
    with pytest.raises(SignInFailed, match="nonce"):
        other.validate_id_token(token, nonce="another nonce")


def test_passwords_can_be_turned_off(
    settings: Settings, db: Database, provider: OidcProvider
) -> None:
    from tests.web.support import csrf_of

    on = sso_settings(settings, provider)
    app = create_app(on, database=db)
    with TestClient(app, base_url=APP, follow_redirects=False) as client:
        token = csrf_of(client.get("/login").text)  # a form that was open when it was turned off
        app.state.settings = on.model_copy(update={"local_login_enabled": False})
        page = client.get("/login")
        assert 'name="password"' not in page.text
        assert "Sign in with City Login" in page.text
        refused = client.post(
            "/login", data={"email": "a@city.example", "password": "x", "csrf_token": token}
        )
        assert refused.status_code == 403
        assert "Passwords are turned off" in refused.text


def test_sign_out_ends_the_provider_session_too(sso: TestClient, provider: OidcProvider) -> None:
    assert sso.get(start(sso, "ann")).status_code == 303
    out = sso.post("/logout", data={"csrf_token": _csrf(sso)})
    assert out.status_code == 303
    assert out.headers["location"].startswith(f"{provider.issuer}/session/end?")
    assert "post_logout_redirect_uri=" in out.headers["location"]
    assert signed_in_as(sso) is None
