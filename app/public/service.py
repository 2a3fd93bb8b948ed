"""The public portal's services: filing a request (it becomes an ordinary request through
app/open_records/requests.py, with its intake holds), the tracking token (shown once, kept as
a SHA-256), the per-address limits counted in the database, the officer's messages to the
requester, and what the tracking page may show."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from app.accounts.models import SocialAccount
from app.audit.models import AuditEvent
from app.audit.service import Actor, record
from app.auth.models import Role, User
from app.config import Settings
from app.db import utcnow
from app.errors import Invalid, TooManyRequests
from app.open_records import requests as requests_service
from app.open_records.models import (
    PackageStatus,
    RecordsRequest,
    RequestStatus,
    ResponsePackage,
)
from app.platforms.registry import registry
from app.public.fees import release_held
from app.public.models import AttemptKind, PortalAttempt, PortalMessage, PortalRequest
from app.retention.schemas import SearchCriteria

PORTAL_EMAIL = "public-portal@postvault.invalid"
PORTAL_ACTOR = Actor.system("public_portal")

DESCRIPTION_MAX = 5_000
NAME_MAX = 200
CONTACT_MAX = 320
ACCOUNT_MAX = 200
MESSAGE_MAX = 5_000
TOKEN_MAX = 100
HONEYPOT_FIELD = "website"
_EMAIL = re.compile(r"^[^@\s<>\"']+@[^@\s<>\"']+\.[^@\s<>\"']+$")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")

LIMIT_WINDOWS = {
    AttemptKind.request: dt.timedelta(days=1),
    AttemptKind.track: dt.timedelta(hours=1),
    AttemptKind.search: dt.timedelta(minutes=1),
}
KEEP_ATTEMPTS = dt.timedelta(days=2)
GRANTED = (RequestStatus.granted.value, RequestStatus.partly_denied.value)


# --- addresses and limits -------------------------------------------------------------------


def address_key(secret: str, address: str) -> str:
    """A keyed hash of the visitor's address: enough to count, never the address itself."""
    return hmac.new(secret.encode(), address.encode(), hashlib.sha256).hexdigest()


def _limit(settings: Settings, kind: AttemptKind) -> int:
    return {
        AttemptKind.request: settings.public_requests_per_address_per_day,
        AttemptKind.track: settings.public_track_per_address_per_hour,
        AttemptKind.search: settings.public_searches_per_address_per_minute,
    }[kind]


def over_limit(
    session: Session, *, settings: Settings, kind: AttemptKind, key: str, now: dt.datetime
) -> bool:
    used = session.scalar(
        select(func.count())
        .select_from(PortalAttempt)
        .where(
            PortalAttempt.kind == kind.value,
            PortalAttempt.address_key == key,
            PortalAttempt.at > now - LIMIT_WINDOWS[kind],
        )
    )
    return (used or 0) >= _limit(settings, kind)


def count_attempt(
    session: Session,
    *,
    settings: Settings,
    kind: AttemptKind,
    key: str,
    now: dt.datetime | None = None,
) -> None:
    """Count one use of a form; refuse it (429) when the address used its share already."""
    now = now or utcnow()
    if over_limit(session, settings=settings, kind=kind, key=key, now=now):
        raise TooManyRequests(LIMIT_SENTENCES[kind])
    session.execute(delete(PortalAttempt).where(PortalAttempt.at < now - KEEP_ATTEMPTS))
    session.add(PortalAttempt(kind=kind.value, address_key=key, at=now))
    session.flush()


LIMIT_SENTENCES = {
    AttemptKind.request: "this address has filed as many requests as the portal takes in a "
    "day; try again tomorrow, or write to the records officer",
    AttemptKind.track: "too many tracking links were tried from this address; wait an hour "
    "and open your link again",
    AttemptKind.search: "too many searches from this address; wait a minute and search again",
}


# --- filing a request -----------------------------------------------------------------------


@dataclass(frozen=True)
class PublicRequest:
    description: str
    name: str | None
    contact: str | None
    date_from: dt.date | None
    date_to: dt.date | None
    platform: str | None
    account: str | None


def _date(form: dict[str, str], field: str, errors: dict[str, str]) -> dt.date | None:
    raw = form.get(field, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[field] = "Give the date as year-month-day, for example 2026-11-20."
        return None


def read_form(
    form: dict[str, str], *, today: dt.date
) -> tuple[PublicRequest | None, dict[str, str]]:
    """The request form checked field by field (every field has a size cap)."""
    errors: dict[str, str] = {}
    description = form.get("description", "").strip()
    if not description:
        errors["description"] = "Describe the records you want, so they can be found."
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = f"A description has at most {DESCRIPTION_MAX:,} characters."
    name = form.get("name", "").strip()
    if len(name) > NAME_MAX:
        errors["name"] = f"A name has at most {NAME_MAX} characters."
    contact = form.get("contact", "").strip()
    if len(contact) > CONTACT_MAX:
        errors["contact"] = f"Contact details have at most {CONTACT_MAX} characters."
    account = form.get("account", "").strip().removeprefix("@")
    if len(account) > ACCOUNT_MAX:
        errors["account"] = f"An account name has at most {ACCOUNT_MAX} characters."
    platform = form.get("platform", "").strip()
    if platform and platform not in registry:
        errors["platform"] = "Choose a platform from the list."
    date_from = _date(form, "date_from", errors)
    date_to = _date(form, "date_to", errors)
    if date_from and date_to and date_to < date_from:
        errors["date_to"] = "The end of the date range comes before its start."
    if date_from and date_from > today:
        errors["date_from"] = "The date range cannot start in the future."
    if errors:
        return None, errors
    return (
        PublicRequest(
            description=description,
            name=name or None,
            contact=contact or None,
            date_from=date_from,
            date_to=date_to,
            platform=platform or None,
            account=account or None,
        ),
        {},
    )


def portal_user(session: Session) -> User:
    """The system user portal requests are logged by: it cannot sign in (no password,
    inactive) and holds no role beyond employee."""
    user = session.scalar(select(User).where(User.email == PORTAL_EMAIL))
    if user is None:
        user = User(
            email=PORTAL_EMAIL, name="Public portal", role=Role.employee.value, is_active=False
        )
        session.add(user)
        session.flush()
        record(
            session,
            actor=PORTAL_ACTOR,
            action="user.created",
            object_type="user",
            object_id=user.id,
            details={"email": PORTAL_EMAIL, "role": user.role, "system": True},
        )
    return user


def _account_id(session: Session, handle: str, platform: str | None) -> int | None:
    """The registered account the requester named, when exactly one matches."""
    query = select(SocialAccount.id).where(func.lower(SocialAccount.handle) == handle.lower())
    if platform:
        query = query.where(SocialAccount.platform == platform)
    found = list(session.scalars(query.limit(2)))
    return found[0] if len(found) == 1 else None


def criteria_of(session: Session, wanted: PublicRequest) -> SearchCriteria | None:
    criteria: dict[str, object] = {}
    if wanted.platform:
        criteria["platform"] = wanted.platform
    if wanted.account:
        account_id = _account_id(session, wanted.account, wanted.platform)
        if account_id is not None:
            criteria["account_id"] = account_id
    if wanted.date_from:
        criteria["created_from"] = dt.datetime.combine(wanted.date_from, dt.time(), dt.UTC)
    if wanted.date_to:
        end = wanted.date_to + dt.timedelta(days=1)
        criteria["created_to"] = dt.datetime.combine(end, dt.time(), dt.UTC)
    return SearchCriteria.model_validate(criteria) if criteria else None


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def file_request(
    session: Session,
    *,
    settings: Settings,
    wanted: PublicRequest,
    key: str,
    today: dt.date,
) -> tuple[RecordsRequest, str]:
    """File a request as an officer would log it (holds on what its details match); returns
    it and its tracking token, which is never stored (only its hash)."""
    count_attempt(session, settings=settings, kind=AttemptKind.request, key=key)
    criteria = criteria_of(session, wanted)
    description = wanted.description
    extra = []
    if wanted.account and (criteria is None or criteria.account_id is None):
        extra.append(f"Account named by the requester: {wanted.account}")
    if extra:
        description += "\n\n" + "\n".join(extra)
    created = requests_service.create_request(
        session,
        officer=portal_user(session),
        received_on=today,
        description=description,
        requester_name=wanted.name,
        requester_contact=wanted.contact,
        saved_searches=[criteria] if criteria is not None else [],
    )
    token = secrets.token_urlsafe(32)
    session.add(
        PortalRequest(request_id=created.id, token_sha256=token_hash(token), address_key=key)
    )
    session.flush()
    record(
        session,
        actor=PORTAL_ACTOR,
        action="request.filed_on_portal",
        object_type="records_request",
        object_id=created.id,
        details={"number": created.number, "holds": criteria is not None},
    )
    return created, token


def record_honeypot(session: Session, *, settings: Settings, key: str) -> None:
    """A form a robot filled (the hidden field has a value): counted, nothing filed."""
    count_attempt(session, settings=settings, kind=AttemptKind.request, key=key)


# --- tracking -------------------------------------------------------------------------------

NO_SUCH_LINK = "there is no request with this tracking link; check that it was copied whole"


def find_by_token(
    session: Session, *, settings: Settings, token: str, key: str
) -> RecordsRequest | None:
    """The request a tracking token belongs to, or None. A token that matches nothing counts
    against the address (the caller commits it), so tokens cannot be guessed at speed; once
    the address used its share, every token is refused for a while."""
    now = utcnow()
    if over_limit(session, settings=settings, kind=AttemptKind.track, key=key, now=now):
        raise TooManyRequests(LIMIT_SENTENCES[AttemptKind.track])
    found = None
    if _TOKEN.match(token):
        found = session.scalar(
            select(PortalRequest).where(PortalRequest.token_sha256 == token_hash(token))
        )
    if found is None:
        count_attempt(session, settings=settings, kind=AttemptKind.track, key=key, now=now)
        return None
    return requests_service.get_request(session, found.request_id)


def came_in_through_portal(session: Session, request_id: int) -> bool:
    return session.get(PortalRequest, request_id) is not None


def was_granted(session: Session, request: RecordsRequest) -> bool:
    """Granted in whole or part (a closed request: its decision is read from the audit log,
    the one place the decision outlives the status)."""
    if request.status in GRANTED:
        return True
    if request.status != RequestStatus.closed:
        return False
    return (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.object_type == "records_request",
                AuditEvent.object_id == str(request.id),
                AuditEvent.action.in_([f"request.{s}" for s in GRANTED]),
            )
        )
        or 0
    ) > 0


def was_denied(session: Session, request: RecordsRequest) -> bool:
    if request.status in (RequestStatus.denied, RequestStatus.partly_denied):
        return True
    if request.status != RequestStatus.closed:
        return False
    return (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.object_type == "records_request",
                AuditEvent.object_id == str(request.id),
                AuditEvent.action.in_(["request.denied", "request.partly_denied"]),
            )
        )
        or 0
    ) > 0


def latest_package(session: Session, request_id: int) -> ResponsePackage | None:
    return session.scalar(
        select(ResponsePackage)
        .where(
            ResponsePackage.request_id == request_id,
            ResponsePackage.status == PackageStatus.done,
            ResponsePackage.sha256.is_not(None),
        )
        .order_by(ResponsePackage.id.desc())
        .limit(1)
    )


def released_package(session: Session, request: RecordsRequest) -> ResponsePackage | None:
    """The package the requester may download: made after the decision, for a decided
    request, with no fee awaiting prepayment."""
    if request.decided_at is None or not (
        was_granted(session, request) or was_denied(session, request)
    ):
        return None
    if release_held(session, request.id):
        return None
    package = latest_package(session, request.id)
    if package is None or package.created_at < request.decided_at:
        return None
    return package


# --- messages to the requester --------------------------------------------------------------


def is_email(contact: str | None) -> bool:
    return bool(contact) and bool(_EMAIL.match(contact or ""))


def send_message(session: Session, *, officer: User, request_id: int, body: str) -> PortalMessage:
    request = requests_service.get_request(session, request_id)
    body = body.strip()
    if not body:
        raise Invalid("write the message before sending it")
    if len(body) > MESSAGE_MAX:
        raise Invalid(f"a message has at most {MESSAGE_MAX:,} characters")
    message = PortalMessage(request_id=request.id, author_id=officer.id, body=body)
    session.add(message)
    session.flush()
    record(
        session,
        actor=Actor.of(officer),
        action="request.message_sent",
        object_type="records_request",
        object_id=request.id,
        details={"message_id": message.id, "chars": len(body)},
    )
    return message


def messages(session: Session, request_id: int) -> list[PortalMessage]:
    return list(
        session.scalars(
            select(PortalMessage)
            .where(PortalMessage.request_id == request_id)
            .order_by(PortalMessage.id)
        )
    )


def record_view(session: Session, request: RecordsRequest, what: str) -> None:
    """Every public view of a request's tracking page or download is audited."""
    record(
        session,
        actor=PORTAL_ACTOR,
        action=f"request.portal_{what}",
        object_type="records_request",
        object_id=request.id,
        details={"number": request.number},
    )
