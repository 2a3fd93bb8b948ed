"""What the pages show: read-only views assembled from the domains' tables.

Nothing here changes state; changes go through each domain's own service (accounts, posts,
auth), called by the routes.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import SocialAccount
from app.audit.service import Actor, record_view
from app.auth import service as auth_service
from app.auth.models import User
from app.classification.models import Classification
from app.config import Settings
from app.db import utcnow
from app.open_records import requests as requests_service
from app.open_records.models import RecordsRequest, RequestStatus
from app.open_records.requests import Deadline
from app.posts import service as posts_service
from app.posts.models import CapturedVersion, FlaggedPost, PostStatus
from app.posts.schemas import PostDetail, VersionSummary
from app.retention.calendar import HolidayCalendar, load_calendar, local_date
from app.retention.models import BatchStatus, DispositionBatch, DispositionItem, RetentionAssignment
from app.retention.schedules import ApprovalNotice, ScheduleError, current_schedules
from app.snapshots.fonts import FontReport, script_report
from app.snapshots.models import Snapshot
from app.storage.fixity import fixity_overview
from app.storage.schemas import FixityOverview
from app.timestamps.models import TimestampToken
from app.web.diff import Piece, word_diff

OPEN_REQUEST_STATUSES = (
    RequestStatus.received.value,
    RequestStatus.acknowledged.value,
    RequestStatus.in_progress.value,
)
DASHBOARD_LIST_LIMIT = 20
DISPOSITION_LOOKAHEAD = dt.timedelta(days=60)
CHART_WEEKS = 12


# --- posts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    before: VersionSummary
    after: VersionSummary
    pieces: list[Piece]

    @property
    def changed(self) -> bool:
        return any(p.kind != "equal" for p in self.pieces)


@dataclass(frozen=True)
class PostPage:
    post: FlaggedPost
    detail: PostDetail
    account: SocialAccount
    versions_with_pdf: frozenset[int]
    comparisons: list[Comparison]
    # Per version number with a snapshot: its trusted timestamp ("stamped", "pending") and
    # how many characters it could not draw.
    timestamps: dict[int, str] = field(default_factory=dict)
    missing_glyphs: dict[int, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # the platform's notes on what it captures
    versions_with_wacz: frozenset[int] = frozenset()


def post_page(session: Session, *, viewer: User, post_id: int) -> PostPage:
    """A post the viewer may see (another employee's is 'not found'), its versions, which of
    them have a PDF snapshot, and the differences between consecutive versions."""
    detail = posts_service.post_detail(session, viewer=viewer, post_id=post_id)
    post = posts_service.get_post(session, viewer=viewer, post_id=post_id)
    snapshot_rows = session.execute(
        select(CapturedVersion.number, Snapshot.missing_glyph_count, TimestampToken.status)
        .join(Snapshot, Snapshot.version_id == CapturedVersion.id)
        .outerjoin(TimestampToken, TimestampToken.object_sha256 == Snapshot.sha256)
        .where(CapturedVersion.post_id == post.id, Snapshot.is_current.is_(True))
    ).all()
    with_pdf = frozenset(number for number, _, _ in snapshot_rows)
    versions = detail.versions
    comparisons = [
        Comparison(before, after, word_diff(before.text or "", after.text or ""))
        for before, after in zip(versions, versions[1:], strict=False)
    ]
    record_view(session, viewer=viewer, post_ids=[post.id], what="post page with its diffs")
    from app.platforms.registry import registry
    from app.web.evidence_pages import versions_with_wacz

    notes: list[str] = []
    if post.platform in registry:
        post_notes = getattr(registry.get(post.platform), "post_notes", None)  # optional hook
        if post_notes is not None:
            notes = post_notes(session, post)
    return PostPage(
        post,
        detail,
        post.account,
        with_pdf,
        comparisons,
        timestamps={number: str(status) for number, _, status in snapshot_rows if status},
        missing_glyphs={number: count for number, count, _ in snapshot_rows if count},
        notes=notes,
        versions_with_wacz=versions_with_wacz(session, post.id),
    )


# --- the records officer's dashboard -----------------------------------------------------


@dataclass(frozen=True)
class ChartWeek:
    starts_on: dt.date
    flagged: int
    captured: int


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    value: int
    series: str


@dataclass(frozen=True)
class Chart:
    weeks: list[ChartWeek]
    bars: list[Bar]
    width: int = 360
    height: int = 196
    plot_top: int = 16
    plot_bottom: int = 172
    max_value: int = 0
    label_x: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class OpenRequest:
    request: RecordsRequest
    age_business_days: int
    mark: str | None  # "overdue" | "due soon" | None


@dataclass(frozen=True)
class DueAssignment:
    assignment: RetentionAssignment
    post: FlaggedPost


@dataclass(frozen=True)
class ProposedBatch:
    batch: DispositionBatch
    items: int


@dataclass(frozen=True)
class Review:
    classification: Classification
    version_number: int
    post: FlaggedPost


@dataclass(frozen=True)
class Dashboard:
    chart: Chart
    failures: list[FlaggedPost]
    failures_total: int
    reviews: list[Review]
    reviews_total: int
    requests: list[OpenRequest]
    due: list[DueAssignment]
    batches: list[ProposedBatch]
    today: dt.date
    fixity: FixityOverview
    fonts: FontReport
    # (label, sentence) from platforms that report on their capture (X's monthly reads)
    platform_facts: list[tuple[str, str]] = field(default_factory=list)
    # Public Records Board approvals that lapse within 12 months, or lapsed (blocking).
    approvals: list[ApprovalNotice] = field(default_factory=list)


def _week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def _chart(session: Session, today: dt.date) -> Chart:
    first_week = _week_start(today) - dt.timedelta(weeks=CHART_WEEKS - 1)
    since = dt.datetime.combine(first_week, dt.time(), tzinfo=dt.UTC)
    flagged: list[dt.datetime | None] = list(
        session.scalars(select(FlaggedPost.flagged_at).where(FlaggedPost.flagged_at >= since))
    )
    captured: list[dt.datetime | None] = list(
        session.scalars(
            select(FlaggedPost.first_captured_at).where(FlaggedPost.first_captured_at >= since)
        )
    )
    counts: dict[dt.date, list[int]] = {
        first_week + dt.timedelta(weeks=n): [0, 0] for n in range(CHART_WEEKS)
    }
    for index, stamps in enumerate((flagged, captured)):
        for stamp in stamps:
            if stamp is None:
                continue
            starts_on = _week_start(stamp.astimezone(dt.UTC).date())
            if starts_on in counts:
                counts[starts_on][index] += 1
    weeks = [ChartWeek(day, f, c) for day, (f, c) in sorted(counts.items())]

    # A viewBox about as wide as a phone, so labels stay readable there without scaling down.
    width, top, bottom, left = 360, 16, 172, 4
    slot = (width - left) / CHART_WEEKS
    bar_width = slot * 0.36
    top_value = max([1, *(w.flagged for w in weeks), *(w.captured for w in weeks)])
    scale = (bottom - top) / top_value
    bars: list[Bar] = []
    label_x: list[float] = []
    for n, week in enumerate(weeks):
        x0 = left + n * slot + slot * 0.1
        label_x.append(round(x0 + bar_width, 1))
        for offset, (series, value) in enumerate(
            (("flagged", week.flagged), ("captured", week.captured))
        ):
            height = value * scale
            bars.append(
                Bar(
                    x=round(x0 + offset * bar_width, 1),
                    y=round(bottom - height, 1),
                    width=round(bar_width, 1),
                    height=round(height, 1),
                    value=value,
                    series=series,
                )
            )
    return Chart(
        weeks=weeks,
        bars=bars,
        width=width,
        height=196,
        plot_top=top,
        plot_bottom=bottom,
        max_value=top_value,
        label_x=label_x,
    )


@functools.cache
def _calendar(name: str, folder: Path | None) -> HolidayCalendar:
    return load_calendar(name, folder)


def holiday_calendar(settings: Settings) -> HolidayCalendar:
    """The configured holiday calendar (read once: its files are part of the release)."""
    return _calendar(settings.holiday_calendar, settings.holidays_dir)


def request_deadline(request: RecordsRequest, *, settings: Settings, today: dt.date) -> Deadline:
    """A request's age in business days (Wis. Stat. 19.345: weekends and legal holidays do
    not count) with its due-soon / overdue marks, as the API reports them."""
    return requests_service.deadline(
        request, today=today, calendar=holiday_calendar(settings), settings=settings
    )


def request_mark(deadline: Deadline) -> str | None:
    if deadline.overdue:
        return "overdue"
    if deadline.due_soon:
        return "due soon"
    return None


def _platform_facts(
    session: Session, settings: Settings, now: dt.datetime
) -> list[tuple[str, str]]:
    from app.platforms.registry import registry

    facts: list[tuple[str, str]] = []
    for platform in registry:
        report = getattr(platform, "dashboard_facts", None)  # optional platform hook
        if report is not None:
            facts += report(session, settings, now)
    return facts


def dashboard(session: Session, *, settings: Settings, now: dt.datetime | None = None) -> Dashboard:
    now = now or utcnow()
    today = now.astimezone(dt.UTC).date()

    failing = FlaggedPost.status == PostStatus.failing.value
    failures = list(
        session.scalars(
            select(FlaggedPost)
            .where(failing)
            .order_by(FlaggedPost.last_error_at.desc(), FlaggedPost.id.desc())
            .limit(DASHBOARD_LIST_LIMIT)
        )
    )
    failures_total = (
        session.scalar(select(func.count()).select_from(FlaggedPost).where(failing)) or 0
    )

    waiting_review = (Classification.needs_review.is_(True), Classification.is_current.is_(True))
    review_rows = session.execute(
        select(Classification, CapturedVersion.number, FlaggedPost)
        .join(CapturedVersion, CapturedVersion.id == Classification.version_id)
        .join(FlaggedPost, FlaggedPost.id == CapturedVersion.post_id)
        .where(*waiting_review)
        .order_by(Classification.created_at, Classification.id)
        .limit(DASHBOARD_LIST_LIMIT)
    ).all()
    reviews = [Review(c, number, post) for c, number, post in review_rows]
    reviews_total = (
        session.scalar(select(func.count()).select_from(Classification).where(*waiting_review)) or 0
    )

    open_requests = session.scalars(
        select(RecordsRequest)
        .where(RecordsRequest.status.in_(OPEN_REQUEST_STATUSES))
        .order_by(RecordsRequest.received_at, RecordsRequest.id)
    )
    requests = []
    local_today = local_date(now, settings.retention_timezone)
    for request in open_requests:
        deadline = request_deadline(request, settings=settings, today=local_today)
        requests.append(OpenRequest(request, deadline.age_business_days, request_mark(deadline)))

    due_rows = session.execute(
        select(RetentionAssignment, FlaggedPost)
        .join(FlaggedPost, FlaggedPost.id == RetentionAssignment.post_id)
        .where(
            RetentionAssignment.is_current.is_(True),
            RetentionAssignment.due_on.is_not(None),
            RetentionAssignment.due_on <= today + DISPOSITION_LOOKAHEAD,
            FlaggedPost.status != PostStatus.disposed.value,
        )
        .order_by(RetentionAssignment.due_on, RetentionAssignment.id)
        .limit(DASHBOARD_LIST_LIMIT)
    ).all()
    due = [DueAssignment(a, p) for a, p in due_rows]

    batch_rows = session.execute(
        select(DispositionBatch, func.count(DispositionItem.id))
        .outerjoin(DispositionItem, DispositionItem.batch_id == DispositionBatch.id)
        .where(DispositionBatch.status == BatchStatus.proposed)
        .group_by(DispositionBatch.id)
        .order_by(DispositionBatch.proposed_at)
    ).all()
    batches = [ProposedBatch(b, n) for b, n in batch_rows]

    return Dashboard(
        chart=_chart(session, today),
        failures=failures,
        failures_total=failures_total,
        reviews=reviews,
        reviews_total=reviews_total,
        requests=requests,
        due=due,
        batches=batches,
        today=today,
        # Failing objects first: a missing or changed file is the first thing to see.
        fixity=fixity_overview(session, limit=DASHBOARD_LIST_LIMIT),
        fonts=script_report(),
        platform_facts=_platform_facts(session, settings, now),
        approvals=_approvals(settings, local_today),
    )


def _approvals(settings: Settings, today: dt.date) -> list[ApprovalNotice]:
    try:
        return current_schedules(settings.schedules_dir).approval_notices(today)
    except ScheduleError:
        return []  # start-up refuses such a folder; a later bad edit keeps the last valid set


# --- employees' own things --------------------------------------------------------------

_URL = re.compile(r"(?:https?|at)://[^\s<>\"']+", re.IGNORECASE)
_TRAILING = ".,;:!?)]}'\""


def first_url(*candidates: str | None) -> str:
    """The first URL in what a share sheet sent: phones often put it in `text`, after the
    post's words, or in `title`; the `url` field wins when it holds one."""
    for candidate in candidates:
        match = _URL.search(candidate or "")
        if match:
            url = match.group(0)
            # Prose around a link: "see https://x/y)." ends with punctuation, the URL does not.
            while url and url[-1] in _TRAILING and not (url[-1] == ")" and "(" in url):
                url = url[:-1]
            return url
    return ""


def my_accounts(session: Session, *, owner: User) -> list[SocialAccount]:
    """The accounts `owner` registered (officers see everyone's elsewhere, not here)."""
    return list(
        session.scalars(
            select(SocialAccount)
            .where(SocialAccount.owner_id == owner.id)
            .order_by(SocialAccount.platform, SocialAccount.handle)
        )
    )


def my_posts(
    session: Session, *, owner: User, status: str | None, limit: int, offset: int
) -> tuple[list[FlaggedPost], int]:
    """Posts of `owner`'s accounts, newest first, optionally of one status."""
    query = (
        select(FlaggedPost)
        .join(SocialAccount, SocialAccount.id == FlaggedPost.account_id)
        .where(SocialAccount.owner_id == owner.id)
    )
    if status:
        query = query.where(FlaggedPost.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(FlaggedPost.id.desc()).limit(limit).offset(offset))
    return list(rows), total


def all_posts(
    session: Session, *, viewer: User, status: str | None, limit: int, offset: int
) -> tuple[list[FlaggedPost], int]:
    """Every employee's posts, for records officers."""
    return posts_service.list_posts(
        session,
        viewer=viewer,
        filters=posts_service.PostFilters(status=status),
        limit=limit,
        offset=offset,
    )


def create_user_with_password(
    session: Session,
    *,
    actor: Actor,
    email: str,
    name: str,
    role: str,
    password: str,
) -> User:
    """An admin's new user, with a first password when one is given (checked before the
    user is created, so a bad password creates nobody)."""
    if password:
        auth_service.check_password(password)
    user = auth_service.create_user(session, email=email, name=name, role=role, actor=actor)
    if password:
        auth_service.set_password(session, user=user, password=password, actor=actor)
    return user
