"""Finding what people must be told, and telling them.

`scan` looks for the conditions below and writes one `Notice` per person and condition (the
unique key makes a scan run twice, or by two workers, harmless); `deliver` sends the pending
ones, each at once or in a person's daily digest, with retries and a capped back-off. Sending
is a job, never part of a request. Both flush; the job owns the transaction.

Employees are told when a capture of their post keeps failing for a day or needs a reconnect,
and when their post was removed from its platform. Records officers are told when a request is
due soon or overdue, a disposition batch waits for approval, the WHS reply period of a batch
has passed, a fixity check failed, or a retention schedule's Public Records Board approval
lapses within 12 months (and again when it lapsed).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.accounts.models import SocialAccount
from app.audit.service import Actor, record
from app.auth.models import Role, User
from app.config import Settings
from app.db import utcnow
from app.errors import Invalid
from app.notices.mail import Mail, MailError
from app.notices.models import Delivery, Notice, NoticeKind, NoticePreference, NoticeStatus
from app.open_records.models import RecordsRequest, RequestStatus
from app.open_records.requests import deadline
from app.posts.models import FlaggedPost, PostStatus
from app.retention.calendar import HolidayCalendar
from app.retention.models import DispositionBatch
from app.retention.schedules import ScheduleError, current_schedules
from app.storage.models import FixityCheck

FAILING_FOR = dt.timedelta(days=1)
WHS_REPLY_DAYS = 60  # Wis. Stat. 19.21(4)(a): 60 days' notice before destruction
MAX_ATTEMPTS = 8
DIGEST_EVERY = dt.timedelta(days=1)
# Statuses a connected-account capture sets when its grant lapsed.
RECONNECT_STATUSES = frozenset({"reconnect_needed"})
_CLOSED_REQUESTS = {RequestStatus.closed.value, RequestStatus.granted.value}


@dataclass(frozen=True)
class Found:
    recipient_id: int
    kind: NoticeKind
    subject_key: str
    subject: str
    body: str


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    digests: int = 0
    errors: list[str] = field(default_factory=list)


def _officer_ids(session: Session) -> list[int]:
    return list(
        session.scalars(
            select(User.id).where(User.role == Role.records_officer, User.is_active.is_(True))
        )
    )


def _post_conditions(session: Session, *, now: dt.datetime, base_url: str) -> Iterable[Found]:
    rows = session.execute(
        select(FlaggedPost, SocialAccount.owner_id)
        .join(SocialAccount, SocialAccount.id == FlaggedPost.account_id)
        .where(
            (FlaggedPost.status == PostStatus.failing)
            | FlaggedPost.status.in_(RECONNECT_STATUSES)
            | FlaggedPost.removed_at.is_not(None)
        )
    ).all()
    for post, owner_id in rows:
        link = f"{base_url}/posts/{post.id}"
        if post.removed_at is not None and post.status != PostStatus.disposed:
            yield Found(
                owner_id,
                NoticeKind.post_removed,
                f"post:{post.id}",
                f"Your flagged post {post.id} was removed from {post.platform}",
                f"The post {post.url} was removed from {post.platform} "
                f"(noticed {post.removed_at:%Y-%m-%d %H:%M} UTC). PostVault keeps every "
                f"version it archived; nothing is lost.\n\n{link}\n",
            )
        if post.status in RECONNECT_STATUSES:
            yield Found(
                owner_id,
                NoticeKind.reconnect_needed,
                f"post:{post.id}:{post.last_error_at or post.flagged_at:%Y%m%d}",
                f"Reconnect your account: post {post.id} cannot be captured",
                f"PostVault can no longer capture {post.url}: the access you granted ended.\n"
                f"Reconnect the account on My accounts.\n\n{link}\n",
            )
        if post.status == PostStatus.failing:
            since = post.last_captured_at or post.flagged_at
            if now - since >= FAILING_FOR:
                yield Found(
                    owner_id,
                    NoticeKind.capture_failing,
                    f"post:{post.id}:{since:%Y%m%dT%H%M}",
                    f"Capture of your post {post.id} keeps failing",
                    f"PostVault has not been able to capture {post.url} since "
                    f"{since:%Y-%m-%d %H:%M} UTC.\nLast error: {post.last_error or 'unknown'}\n"
                    f"It keeps trying; a records officer sees it too.\n\n{link}\n",
                )


def _officer_conditions(
    session: Session,
    *,
    today: dt.date,
    calendar: HolidayCalendar,
    settings: Settings,
    base_url: str,
) -> Iterable[tuple[NoticeKind, str, str, str]]:
    for request in session.scalars(
        select(RecordsRequest).where(RecordsRequest.status.not_in(_CLOSED_REQUESTS))
    ):
        marks = deadline(request, today=today, calendar=calendar, settings=settings)
        link = f"{base_url}/requests/{request.id}"
        if marks.overdue:
            yield (
                NoticeKind.request_overdue,
                f"request:{request.id}",
                f"Request {request.number} is overdue ({marks.age_business_days} business days)",
                f"Open-records request {request.number}, received {request.received_on}, "
                f"has waited {marks.age_business_days} business days.\n\n{link}\n",
            )
        elif marks.due_soon:
            yield (
                NoticeKind.request_due_soon,
                f"request:{request.id}",
                f"Request {request.number} is due soon ({marks.age_business_days} business days)",
                f"Open-records request {request.number}, received {request.received_on}, "
                f"has waited {marks.age_business_days} business days.\n\n{link}\n",
            )
    for batch in session.scalars(
        select(DispositionBatch).where(DispositionBatch.status.in_(("proposed", "approved")))
    ):
        if batch.status == "proposed":
            yield (
                NoticeKind.disposition_waiting,
                f"batch:{batch.id}",
                f"Disposition batch {batch.id} waits for approval",
                f"Disposition batch {batch.id} was proposed on {batch.proposed_at:%Y-%m-%d}; a "
                f"records officer reviews and approves it.\n\n{base_url}/dashboard\n",
            )
        if (
            batch.whs_notice_on is not None
            and batch.whs_reply_ref is None
            and today >= batch.whs_notice_on + dt.timedelta(days=WHS_REPLY_DAYS)
        ):
            yield (
                NoticeKind.whs_reply_due,
                f"batch:{batch.id}",
                f"WHS reply period of disposition batch {batch.id} has passed",
                f"The Wisconsin Historical Society was notified on {batch.whs_notice_on}; "
                f"{WHS_REPLY_DAYS} days have passed. Record WHS's reply (or that none came) "
                f"before the batch runs.\n\n{base_url}/dashboard\n",
            )
    try:
        approvals = current_schedules(settings.schedules_dir).approval_notices(today)
    except ScheduleError:
        approvals = []
    for notice in approvals:
        kind = NoticeKind.approval_expired if notice.expired else NoticeKind.approval_expiring
        what = "expired" if notice.expired else "expires soon"
        yield (
            kind,
            f"approval:{notice.schedule_id}:{notice.reference}:{notice.expires_on}",
            f"Retention schedule approval {notice.reference} {what} ({notice.expires_on})",
            f"{notice.message[:1].upper()}{notice.message[1:]}.\n\n{base_url}/officer\n",
        )
    for check in session.scalars(select(FixityCheck).where(FixityCheck.ok.is_(False))):
        yield (
            NoticeKind.fixity_failed,
            f"fixity:{check.id}",
            f"Fixity check failed: object {check.sha256[:12]}… is {check.problem}",
            f"The stored object {check.sha256} failed its fixity check on "
            f"{check.checked_at:%Y-%m-%d %H:%M} UTC: {check.problem}. Run `postvault verify` "
            f"and restore it from a backup.\n\n{base_url}/dashboard\n",
        )


def scan(
    session: Session,
    *,
    settings: Settings,
    calendar: HolidayCalendar,
    today: dt.date,
    now: dt.datetime | None = None,
) -> int:
    """Write a notice for every condition found that was not noticed before; how many."""
    now = now or utcnow()
    base_url = (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")
    found = list(_post_conditions(session, now=now, base_url=base_url))
    officers = _officer_ids(session)
    for kind, key, subject, body in _officer_conditions(
        session, today=today, calendar=calendar, settings=settings, base_url=base_url
    ):
        found.extend(Found(officer, kind, key, subject, body) for officer in officers)
    if not found:
        return 0
    existing: set[tuple[int, str, str]] = {
        (recipient, kind, key)
        for recipient, kind, key in session.execute(
            select(Notice.recipient_id, Notice.kind, Notice.subject_key).where(
                Notice.recipient_id.in_({f.recipient_id for f in found})
            )
        )
    }
    added = 0
    for item in found:
        notice_key = (item.recipient_id, item.kind.value, item.subject_key)
        if notice_key in existing:
            continue
        existing.add(notice_key)
        session.add(
            Notice(
                recipient_id=item.recipient_id,
                kind=item.kind,
                subject_key=item.subject_key,
                subject=item.subject,
                body=item.body,
                status=NoticeStatus.pending,
                next_attempt_at=now,
            )
        )
        added += 1
    session.flush()
    return added


def backoff(attempts: int) -> dt.timedelta:
    minutes: int = 5 * 2 ** min(max(attempts - 1, 0), 10)
    return min(dt.timedelta(minutes=minutes), dt.timedelta(hours=6))


Sender = Callable[[list[Mail]], list[MailError | None]]


def _digest(user: User, notices: list[Notice]) -> Mail:
    lines = [f"PostVault: {len(notices)} notices since the last digest.", ""]
    for notice in notices:
        lines += [f"* {notice.subject}", "", notice.body.rstrip(), ""]
    return Mail(user.email, f"PostVault daily digest: {len(notices)} notices", "\n".join(lines))


def deliver(session: Session, *, send: Sender, now: dt.datetime | None = None) -> DeliveryReport:
    """Send every pending notice that is due: one mail each, or one digest per person who
    asked for a daily digest (once a day). Failures are retried with back-off."""
    now = now or utcnow()
    report = DeliveryReport()
    pending = list(
        session.scalars(
            select(Notice)
            .where(Notice.status == NoticeStatus.pending, Notice.next_attempt_at <= now)
            .order_by(Notice.id)
        )
    )
    if not pending:
        return report
    users = {
        u.id: u
        for u in session.scalars(select(User).where(User.id.in_({n.recipient_id for n in pending})))
    }
    preferences = {
        p.user_id: p
        for p in session.scalars(
            select(NoticePreference).where(NoticePreference.user_id.in_(users))
        )
    }
    batches: list[tuple[Mail, list[Notice]]] = []
    by_digest: dict[int, list[Notice]] = {}
    for notice in pending:
        user = users[notice.recipient_id]
        if not user.is_active:
            notice.status = NoticeStatus.failed
            notice.last_error = "the recipient was deactivated"
            continue
        preference = preferences.get(user.id)
        if preference is not None and preference.delivery == Delivery.daily_digest:
            by_digest.setdefault(user.id, []).append(notice)
        else:
            batches.append((Mail(user.email, notice.subject, notice.body), [notice]))
    for user_id, notices in by_digest.items():
        preference = preferences[user_id]
        if preference.last_digest_at is None or now - preference.last_digest_at >= DIGEST_EVERY:
            batches.append((_digest(users[user_id], notices), notices))
    results = send([mail for mail, _ in batches])
    for (_mail, notices), error in zip(batches, results, strict=True):
        digest = len(notices) > 1 or notices[0].recipient_id in by_digest
        for notice in notices:
            notice.attempts += 1
            if error is None:
                notice.status = NoticeStatus.sent
                notice.sent_at = now
                notice.last_error = None
            elif notice.attempts >= MAX_ATTEMPTS:
                notice.status = NoticeStatus.failed
                notice.last_error = str(error)
            else:
                notice.next_attempt_at = now + backoff(notice.attempts)
                notice.last_error = str(error)
        if error is None:
            if digest:
                preferences[notices[0].recipient_id].last_digest_at = now
                report.digests += 1
            report.sent += 1
            record(
                session,
                actor=Actor.system("notices"),
                action="notice.sent",
                object_type="user",
                object_id=notices[0].recipient_id,
                details={"kinds": sorted({n.kind for n in notices}), "notices": len(notices)},
            )
        elif all(n.status == NoticeStatus.failed for n in notices):
            report.failed += 1
            report.errors.append(str(error))
        else:
            report.retried += 1
            report.errors.append(str(error))
    session.flush()
    return report


def preference(session: Session, *, user: User) -> Delivery:
    row = session.get(NoticePreference, user.id)
    return Delivery(row.delivery) if row else Delivery.immediate


def set_preference(session: Session, *, user: User, delivery: str, actor: Actor) -> Delivery:
    try:
        chosen = Delivery(delivery)
    except ValueError:
        raise Invalid(
            f"'{delivery}' is not a delivery: use {', '.join(d.value for d in Delivery)}"
        ) from None
    row = session.get(NoticePreference, user.id)
    if row is None:
        row = NoticePreference(user_id=user.id, delivery=chosen)
        session.add(row)
    row.delivery = chosen
    record(
        session,
        actor=actor,
        action="notices.preference_set",
        object_type="user",
        object_id=user.id,
        details={"delivery": chosen.value},
    )
    session.flush()
    return chosen


def sent_to(session: Session, *, user: User, limit: int = 50) -> list[Notice]:
    return list(
        session.scalars(
            select(Notice)
            .where(Notice.recipient_id == user.id)
            .order_by(Notice.id.desc())
            .limit(limit)
        )
    )
