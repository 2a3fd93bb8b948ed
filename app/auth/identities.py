"""Who a single sign-on is: matching the provider's (issuer, subject) to a PostVault user,
creating employees for the city's own domains, and roles from the provider's groups.

Roles are re-read at every sign-in: a person removed from the records officers' group at the
provider is an employee from their next sign-in on (and their other sessions end, as with any
role change).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.audit.service import Actor, record
from app.auth import service as auth_service
from app.auth.models import Role, User, UserIdentity
from app.config import Settings
from app.db import utcnow
from app.errors import Forbidden


def _split(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",") if part.strip()}


def role_for_groups(settings: Settings, groups: Iterable[str]) -> Role:
    names = {str(g).strip().lower() for g in groups}
    if names & _split(settings.oidc_admin_groups):
        return Role.admin
    if names & _split(settings.oidc_officer_groups):
        return Role.records_officer
    return Role.employee


def _groups(claims: dict[str, Any], claim: str) -> list[str]:
    value = claims.get(claim)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def user_for_sign_in(session: Session, *, claims: dict[str, Any], settings: Settings) -> User:
    """The user this validated ID token signs in, made or updated as the settings say."""
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    email = str(claims.get("email") or "").strip().lower()
    actor = Actor.system("sso")
    identity = session.scalar(
        select(UserIdentity).where(UserIdentity.issuer == issuer, UserIdentity.subject == subject)
    )
    if identity is not None:
        user = session.get(User, identity.user_id)
        assert user is not None
    else:
        domain = email.rpartition("@")[2]
        if not email or "@" not in email:
            raise Forbidden("the sign-in provider did not say your email address")
        if domain not in _split(settings.oidc_allowed_domains):
            raise Forbidden(
                f"people with an email address at {domain} cannot use this PostVault; "
                "ask the city's PostVault administrator"
            )
        user = session.scalar(select(User).where(User.email == email))
        if user is not None and claims.get("email_verified") is not True:
            # An existing local account is linked only on the provider's word that the
            # address is theirs.
            raise Forbidden(
                "a PostVault account with this email exists, but the sign-in provider has not "
                "verified the address; ask the administrator"
            )
        if user is None:
            name = str(claims.get("name") or email.partition("@")[0])
            user = auth_service.create_user(
                session, email=email, name=name, role=Role.employee, actor=actor
            )
        identity = UserIdentity(user_id=user.id, issuer=issuer, subject=subject)
        session.add(identity)
        session.flush()
        record(
            session,
            actor=actor,
            action="user.identity_linked",
            object_type="user",
            object_id=user.id,
            details={"issuer": issuer, "subject": subject},
        )
    if not user.is_active:
        raise Forbidden("this PostVault account is deactivated")
    role = role_for_groups(settings, _groups(claims, settings.oidc_groups_claim))
    auth_service.set_role(session, user=user, role=role, actor=actor)
    identity.last_sign_in_at = utcnow()
    record(
        session,
        actor=Actor.of(user),
        action="user.signed_in_sso",
        object_type="user",
        object_id=user.id,
        details={"issuer": issuer, "role": user.role},
    )
    session.flush()
    return user
