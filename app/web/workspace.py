"""The records officer's request workspace: what its pages show, and the few steps that turn
a form into calls of the open-records services (a typed phrase into redaction offsets, a
search form into a query).

State changes go through app.open_records (requests, redaction, package), which audit them;
this module only reads, checks what people typed, and calls those services.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.accounts.models import SocialAccount
from app.audit.service import Actor, record_view
from app.auth.models import Role, User
from app.config import Settings
from app.errors import Conflict, Invalid
from app.open_records import redaction as redaction_service
from app.open_records import requests as requests_service
from app.open_records.letters import letters_of
from app.open_records.models import (
    PackageStatus,
    RecordsRequest,
    Redaction,
    RequestItem,
    RequestNote,
    RequestStatus,
    ResponsePackage,
)
from app.open_records.requests import Deadline
from app.open_records.schemas import SEARCH_QUERY_MAX_LENGTH, TEXT_MAX, SearchQuery
from app.platforms.registry import PLATFORM_NAMES, registry
from app.posts.models import CapturedVersion, FlaggedPost
from app.retention.schemas import SearchCriteria
from app.search import service as search_service
from app.storage.base import ArchiveStore
from app.web.service import OPEN_REQUEST_STATUSES, request_deadline, request_mark

REQUEST_STATUS_NAMES: dict[str, str] = {
    RequestStatus.received: "Received",
    RequestStatus.acknowledged: "Acknowledged",
    RequestStatus.in_progress: "In progress",
    RequestStatus.granted: "Granted",
    RequestStatus.partly_denied: "Partly denied",
    RequestStatus.denied: "Denied",
    RequestStatus.closed: "Closed",
}
PACKAGE_STATUS_NAMES: dict[str, str] = {
    PackageStatus.queued: "Waiting to start",
    PackageStatus.running: "Being made",
    PackageStatus.done: "Ready",
    PackageStatus.failed: "Failed",
}
DENIALS = (RequestStatus.denied.value, RequestStatus.partly_denied.value)
NAME_MAX = 300
CONTACT_MAX = 500
EXEMPTION_MAX = 2000
SEARCH_HITS_SHOWN = 50


class FieldInvalid(Invalid):
    """Bad input in one named field of a form, so the page shows the sentence next to it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# --- the list of requests -----------------------------------------------------------------


@dataclass(frozen=True)
class RequestRow:
    request: RecordsRequest
    deadline: Deadline
    mark: str | None
    assignee: User | None
    items: int


def request_rows(
    session: Session,
    *,
    settings: Settings,
    today: dt.date,
    status: str,
    limit: int,
    offset: int,
) -> tuple[list[RequestRow], int]:
    """Requests of one status, or every open one ("open", oldest first: the most urgent on
    top), or all of them ("all", newest first)."""
    query = select(RecordsRequest)
    if status == "open":
        query = query.where(RecordsRequest.status.in_(OPEN_REQUEST_STATUSES)).order_by(
            RecordsRequest.received_at, RecordsRequest.id
        )
    else:
        if status != "all":
            query = query.where(RecordsRequest.status == status)
        query = query.order_by(RecordsRequest.id.desc())
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    requests = list(session.scalars(query.limit(limit).offset(offset)))
    counts = dict(
        session.execute(
            select(RequestItem.request_id, func.count())
            .where(
                RequestItem.request_id.in_([r.id for r in requests]),
                RequestItem.removed_at.is_(None),
            )
            .group_by(RequestItem.request_id)
        ).all()
    )
    rows = []
    for request in requests:
        due = request_deadline(request, settings=settings, today=today)
        assignee = session.get(User, request.assigned_to_id) if request.assigned_to_id else None
        rows.append(
            RequestRow(request, due, request_mark(due), assignee, counts.get(request.id, 0))
        )
    return rows, total


def officers(session: Session) -> list[User]:
    """Who a request can be assigned to."""
    return list(
        session.scalars(
            select(User)
            .where(
                User.role.in_((Role.records_officer.value, Role.admin.value)),
                User.is_active.is_(True),
            )
            .order_by(User.name, User.id)
        )
    )


def employees_with_accounts(session: Session) -> list[User]:
    """The people whose posts can be searched by employee."""
    return list(
        session.scalars(
            select(User)
            .where(User.id.in_(select(SocialAccount.owner_id)))
            .order_by(User.name, User.id)
        )
    )


# --- opening a request --------------------------------------------------------------------


@dataclass(frozen=True)
class NewRequest:
    received_at: dt.datetime | dt.date  # a day alone when no time was given
    description: str
    requester_name: str | None
    requester_contact: str | None
    requester_committed: bool
    saved_searches: list[SearchCriteria]
    assigned_to_id: int | None
    confirm_nothing_held: bool = False


NOTHING_HELD_PAGE = (
    "No post is held for this request yet. Fill in “Hold the posts it covers” above to hold "
    "them now, or tick this box to confirm that nothing is held yet: posts you add to the "
    "responsive set from the request page are held as they are added."
)


def read_new_request(
    form: dict[str, str], *, today: dt.date, timezone: str = "America/Chicago"
) -> tuple[NewRequest | None, dict[str, str]]:
    """The "open a request" form checked field by field: the request, or a sentence for each
    field that is wrong (keyed by the field's name)."""
    errors: dict[str, str] = {}
    received_on: dt.date | None = None
    raw_date = form.get("received_on", "").strip()
    if not raw_date:
        errors["received_on"] = "Give the date the request arrived."
    else:
        try:
            received_on = dt.date.fromisoformat(raw_date)
        except ValueError:
            errors["received_on"] = "Give the date as year-month-day, for example 2026-11-20."
        else:
            if received_on > today:
                errors["received_on"] = "A request cannot arrive in the future."
    received_at: dt.datetime | dt.date | None = received_on
    raw_time = form.get("received_time", "").strip()
    if raw_time and received_on is not None:
        try:
            at = dt.time.fromisoformat(raw_time)
        except ValueError:
            errors["received_time"] = "Give the time as hours:minutes, for example 14:05."
        else:
            local = dt.datetime.combine(received_on, at, tzinfo=ZoneInfo(timezone))
            if local > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10):
                errors["received_time"] = "A request cannot arrive in the future."
            received_at = local
    description = form.get("description", "").strip()
    if not description:
        errors["description"] = "Say what the requester asked for."
    elif len(description) > TEXT_MAX:
        errors["description"] = f"A description has at most {TEXT_MAX} characters."
    name = form.get("requester_name", "").strip()
    if len(name) > NAME_MAX:
        errors["requester_name"] = f"A name has at most {NAME_MAX} characters."
    contact = form.get("requester_contact", "").strip()
    if len(contact) > CONTACT_MAX:
        errors["requester_contact"] = f"Contact details have at most {CONTACT_MAX} characters."

    criteria: dict[str, object] = {}
    text = form.get("search_text", "").strip()
    if text:
        if len(text) > SEARCH_QUERY_MAX_LENGTH:
            errors["search_text"] = (
                f"The words to hold have at most {SEARCH_QUERY_MAX_LENGTH} characters."
            )
        criteria["text"] = text
    employee = form.get("search_employee", "")
    if employee:
        if employee.isdigit():
            criteria["employee_id"] = int(employee)
        else:
            errors["search_employee"] = "Choose an employee from the list."
    platform = form.get("search_platform", "")
    if platform:
        if platform in registry:
            criteria["platform"] = platform
        else:
            errors["search_platform"] = "Choose a platform from the list."
    assigned = form.get("assigned_to", "")
    if assigned and not assigned.isdigit():
        errors["assigned_to"] = "Choose a records officer from the list."
    if not criteria and form.get("confirm_nothing_held") != "yes" and not errors:
        errors["confirm_nothing_held"] = NOTHING_HELD_PAGE
    if errors or received_at is None:
        return None, errors
    return (
        NewRequest(
            received_at=received_at,
            description=description,
            requester_name=name or None,
            requester_contact=contact or None,
            requester_committed=form.get("requester_committed") == "yes",
            saved_searches=[SearchCriteria.model_validate(criteria)] if criteria else [],
            confirm_nothing_held=not criteria,
            assigned_to_id=int(assigned) if assigned else None,
        ),
        {},
    )


# --- searching from a request ---------------------------------------------------------------


@dataclass(frozen=True)
class PostHits:
    """The versions of one post that matched, shown as one choice (a post goes into the set
    with all its versions)."""

    post_id: int
    platform: str
    url: str
    author_handle: str | None
    versions: list[int]
    snippet: str  # HTML from the search service: escaped text with <mark> around matches
    in_set: bool


@dataclass(frozen=True)
class SearchResults:
    q: str
    total: int
    posts: list[PostHits]
    truncated: bool


def search_archive(
    session: Session,
    *,
    viewer: User,
    request_id: int,
    q: str,
    platform: str,
    employee: str,
) -> SearchResults:
    """Full-text search with the request page's filters; hits grouped by post, marked when
    the post is already in the request's set."""
    if not q.strip():
        raise Invalid("type a word or two to search for")
    if len(q) > SEARCH_QUERY_MAX_LENGTH:
        raise Invalid(f"a search has at most {SEARCH_QUERY_MAX_LENGTH} characters")
    if platform and platform not in registry:
        raise Invalid("choose a platform from the list")
    if employee and not employee.isdigit():
        raise Invalid("choose an employee from the list")
    try:
        query = SearchQuery(
            q=q,
            platform=platform or None,
            employee_id=int(employee) if employee else None,
            limit=SEARCH_HITS_SHOWN,
        )
    except ValidationError:
        raise Invalid("the search could not be read; type plain words") from None
    page = search_service.search(session, query=query, viewer=viewer)
    in_set = set(
        session.scalars(
            select(CapturedVersion.post_id)
            .join(RequestItem, RequestItem.version_id == CapturedVersion.id)
            .where(RequestItem.request_id == request_id, RequestItem.removed_at.is_(None))
        )
    )
    grouped: dict[int, PostHits] = {}
    for hit in page.hits:
        found = grouped.get(hit.post_id)
        if found is None:
            grouped[hit.post_id] = PostHits(
                post_id=hit.post_id,
                platform=hit.platform,
                url=hit.url,
                author_handle=hit.author_handle,
                versions=[hit.version],
                snippet=hit.snippet,
                in_set=hit.post_id in in_set,
            )
        else:
            found.versions.append(hit.version)
    for hits in grouped.values():
        hits.versions.sort()
    return SearchResults(
        q=q,
        total=page.total,
        posts=list(grouped.values()),
        truncated=page.total > len(page.hits),
    )


def read_post_ids(values: Sequence[str]) -> list[int]:
    if not values:
        raise Invalid("tick at least one post to add")
    if not all(v.isdigit() for v in values):
        raise Invalid("the ticked posts could not be read; search again and tick them anew")
    return [int(v) for v in values]


# --- the request page -------------------------------------------------------------------------


@dataclass(frozen=True)
class TextPiece:
    text: str
    exemption: str | None  # set on a redacted piece


@dataclass(frozen=True)
class MediaFile:
    sha256: str
    position: int
    role: str
    alt_text: str | None
    withheld: str | None  # the exemption, when withheld


@dataclass(frozen=True)
class ItemView:
    item: RequestItem
    version: CapturedVersion
    post: FlaggedPost
    pieces: list[TextPiece]
    redactions: list[Redaction]
    media: list[MediaFile]
    archived_sha256: str | None
    redacted_texts: dict[int, str]  # redaction id: the text it takes out (for the list)

    @property
    def redacted(self) -> bool:
        return bool(self.redactions)


@dataclass(frozen=True)
class NoteView:
    note: RequestNote
    author: User


@dataclass(frozen=True)
class RequestPage:
    request: RecordsRequest
    deadline: Deadline
    mark: str | None
    held_posts: int
    creator: User
    assignee: User | None
    next_statuses: list[str]
    notes: list[NoteView]
    items: list[ItemView]
    removed: list[ItemView]
    packages: list[ResponsePackage]
    officers: list[User]
    employees: list[User]
    saved_searches: list[str]
    letter_kinds: list[str]

    @property
    def packaging(self) -> bool:
        return any(p.status in (PackageStatus.queued, PackageStatus.running) for p in self.packages)


def marked_text(text: str, redactions: Sequence[Redaction]) -> list[TextPiece]:
    """The text cut into plain and redacted pieces (overlapping spans merge), so the page
    shows exactly what will be replaced and why."""
    spans = sorted(
        (r.start, r.end, r.exemption)
        for r in redactions
        if r.kind == "text" and r.field is None and r.start is not None and r.end is not None
    )
    merged: list[tuple[int, int, list[str]]] = []
    for start, end, why in spans:
        if merged and start < merged[-1][1]:
            first, last, reasons = merged[-1]
            merged[-1] = (first, max(last, end), [*reasons, why])
        else:
            merged.append((start, end, [why]))
    pieces: list[TextPiece] = []
    cursor = 0
    for start, end, reasons in merged:
        if start > cursor:
            pieces.append(TextPiece(text[cursor:start], None))
        pieces.append(TextPiece(text[start:end], "; ".join(dict.fromkeys(reasons))))
        cursor = end
    if cursor < len(text):
        pieces.append(TextPiece(text[cursor:], None))
    return pieces


def _item_view(session: Session, item: RequestItem) -> ItemView:
    version = session.get(CapturedVersion, item.version_id)
    assert version is not None  # foreign key
    redactions = requests_service.redactions_of(session, item.id)
    withheld = {r.media_sha256: r.exemption for r in redactions if r.kind == "media"}
    media = [
        MediaFile(m.sha256, m.position, m.role, m.alt_text, withheld.get(m.sha256))
        for m in sorted(version.media, key=lambda m: m.position)
    ]
    fields = redaction_service.item_fields(version)
    texts = {
        r.id: (version.text or "" if r.field is None else fields.get(r.field, ""))[
            r.start or 0 : r.end or 0
        ]
        for r in redactions
        if r.kind == "text"
    }
    return ItemView(
        item=item,
        version=version,
        post=version.post,
        pieces=marked_text(version.text or "", redactions),
        redactions=redactions,
        media=media,
        archived_sha256=redaction_service.archived_snapshot_sha256(session, version.id),
        redacted_texts=texts,
    )


def describe_saved_search(saved: dict[str, Any], people: dict[int, User]) -> str:
    """A saved search (SearchCriteria as stored) in words, e.g. 'words “pool”, Mastodon'."""
    parts: list[str] = []
    if saved.get("text"):
        parts.append(f"words “{saved['text']}”")
    employee = saved.get("employee_id")
    if employee is not None:
        person = people.get(int(employee))
        parts.append(f"posts of {person.name}" if person else f"posts of user {employee}")
    if saved.get("account_id") is not None:
        parts.append(f"account {saved['account_id']}")
    if saved.get("platform"):
        parts.append(PLATFORM_NAMES.get(str(saved["platform"]), str(saved["platform"])))
    for key, words in (
        ("flagged_from", "flagged from"),
        ("flagged_to", "flagged before"),
        ("created_from", "posted from"),
        ("created_to", "posted before"),
    ):
        if saved.get(key):
            parts.append(f"{words} {str(saved[key])[:10]}")
    if saved.get("include_disposed"):
        parts.append("disposed posts too")
    return ", ".join(parts) or "every post"


def request_page(
    session: Session,
    *,
    settings: Settings,
    request_id: int,
    today: dt.date,
    viewer: User | None = None,
) -> RequestPage:
    request = requests_service.get_request(session, request_id)
    due = request_deadline(request, settings=settings, today=today)
    items = [
        _item_view(session, item)
        for item in requests_service.list_items(session, request_id=request.id)
    ]
    if viewer is not None:  # the items' text with its redactions marked: a redaction preview
        record_view(
            session,
            viewer=viewer,
            post_ids=[i.post.id for i in items],
            what=f"redaction preview, request {request.number}",
        )
    authors = {
        u.id: u
        for u in session.scalars(
            select(User).where(
                User.id.in_(
                    select(RequestNote.author_id).where(RequestNote.request_id == request.id)
                )
            )
        )
    }
    notes = [
        NoteView(note, authors[note.author_id])
        for note in requests_service.notes(session, request_id=request.id)
    ]
    creator = session.get(User, request.created_by_id)
    assert creator is not None  # foreign key
    wanted = {
        int(saved["employee_id"])
        for saved in request.saved_searches
        if saved.get("employee_id") is not None
    }
    people = {u.id: u for u in session.scalars(select(User).where(User.id.in_(wanted)))}
    packages = list(
        session.scalars(
            select(ResponsePackage)
            .where(ResponsePackage.request_id == request.id)
            .order_by(ResponsePackage.id.desc())
        )
    )
    return RequestPage(
        request=request,
        deadline=due,
        mark=request_mark(due),
        held_posts=requests_service.held_post_count(session, request.id),
        creator=creator,
        assignee=session.get(User, request.assigned_to_id) if request.assigned_to_id else None,
        next_statuses=sorted(
            (s.value for s in requests_service.TRANSITIONS[RequestStatus(request.status)]),
            key=list(REQUEST_STATUS_NAMES).index,
        ),
        notes=notes,
        items=[i for i in items if i.item.removed_at is None],
        removed=[i for i in items if i.item.removed_at is not None],
        packages=packages,
        officers=officers(session),
        employees=employees_with_accounts(session),
        saved_searches=[describe_saved_search(saved, people) for saved in request.saved_searches],
        letter_kinds=[letter.kind for letter in letters_of(session, request.id)],
    )


# --- redaction from a typed phrase ------------------------------------------------------------


def spans_of(text: str, phrase: str, *, every: bool) -> list[tuple[int, int]]:
    """Where `phrase` stands in `text`, as [start, end) offsets: exactly one place, or every
    place when `every`. A phrase that is missing or ambiguous is refused with a sentence that
    says what to do, never guessed."""
    if not phrase:
        raise FieldInvalid("phrase", "type the text to redact, exactly as it appears in the item")
    starts = []
    at = text.find(phrase)
    while at != -1:
        starts.append(at)
        at = text.find(phrase, at + 1)
    if not starts:
        if phrase.casefold() in text.casefold():
            raise FieldInvalid(
                "phrase",
                "that text is in the item only with different capital letters; "
                "copy it exactly as shown",
            )
        raise FieldInvalid("phrase", "that text is not in the item; copy it exactly as shown")
    if len(starts) > 1 and not every:
        raise FieldInvalid(
            "phrase",
            f"that text appears {len(starts)} times in the item; type more of the words "
            "around it so it appears once, or tick 'every place it appears'",
        )
    spans: list[tuple[int, int]] = []
    for start in starts:
        if spans and start < spans[-1][1]:
            continue  # overlaps the previous occurrence ("aa" in "aaa"): already covered
        spans.append((start, start + len(phrase)))
    return spans


def field_spans_of(
    fields: dict[str, str], phrase: str, *, every: bool
) -> list[tuple[str, int, int]]:
    """Where `phrase` stands in any text field of an item (the post's text, replies, names,
    alt text, link card, web-capture facts), as (field, start, end): the same rules as
    `spans_of` over all the fields together."""
    names = list(fields)
    joined = "\x00".join(fields[name] for name in names)
    bounds: list[tuple[str, int]] = []
    offset = 0
    for name in names:
        bounds.append((name, offset))
        offset += len(fields[name]) + 1
    found: list[tuple[str, int, int]] = []
    for start, end in spans_of(joined, phrase.replace("\x00", ""), every=every):
        name, base = next((n, b) for n, b in reversed(bounds) if b <= start)
        if end - base <= len(fields[name]):  # never across two fields
            found.append((name, start - base, end - base))
    return found


def read_box(x: str, y: str, width: str, height: str) -> dict[str, int] | None:
    """A region typed on the page (pixels), or None when all four are empty."""
    values = [v.strip() for v in (x, y, width, height)]
    if not any(values):
        return None
    if not all(v.isdigit() and len(v) <= 6 for v in values):
        raise Invalid("give the region as four whole numbers of pixels: x, y, width and height")
    keys = ("x", "y", "width", "height")  # not a platform id: a picture region's corner
    box = dict(zip(keys, map(int, values), strict=True))
    if box["width"] < 1 or box["height"] < 1:
        raise Invalid("the region needs a width and a height of at least one pixel")
    return box


def _exemption(exemption: str) -> str:
    reason = exemption.strip()
    if not reason:
        raise FieldInvalid(
            "exemption", "give the reason: it is printed where the text or file was taken out"
        )
    if len(reason) > EXEMPTION_MAX:
        raise FieldInvalid("exemption", f"a reason has at most {EXEMPTION_MAX} characters")
    return reason


def _release(
    session: Session, *, store: ArchiveStore, officer: User, request_id: int, item_id: int
) -> None:
    item = requests_service.get_item(session, request_id=request_id, item_id=item_id)
    request = requests_service.get_request(session, request_id)
    redaction_service.release_copy(
        session, store=store, item=item, request_number=request.number, actor=Actor.of(officer)
    )


def redact_phrase(
    session: Session,
    *,
    store: ArchiveStore,
    officer: User,
    request_id: int,
    item_id: int,
    phrase: str,
    exemption: str,
    every: bool,
) -> int:
    """Redact a typed phrase of an item's text (once, or every place it appears) and make the
    redacted copy at once; returns how many places were redacted."""
    item = requests_service.get_item(session, request_id=request_id, item_id=item_id)
    if item.removed_at is not None:
        raise Conflict("this item was taken out of the set; add its post again to redact it")
    version = session.get(CapturedVersion, item.version_id)
    assert version is not None  # foreign key
    reason = _exemption(exemption)
    fields = redaction_service.item_fields(version) or {"text": ""}
    spans = field_spans_of(fields, phrase.strip(), every=every)
    for field, start, end in spans:
        redaction_service.add_redaction(
            session,
            officer=officer,
            request_id=request_id,
            item_id=item_id,
            kind="text",
            exemption=reason,
            start=start,
            end=end,
            field=field,
        )
    _release(session, store=store, officer=officer, request_id=request_id, item_id=item_id)
    return len(spans)


def withhold_media(
    session: Session,
    *,
    store: ArchiveStore,
    officer: User,
    request_id: int,
    item_id: int,
    media_sha256: str,
    exemption: str,
    box: dict[str, int] | None = None,
) -> None:
    """Leave one media file of an item out of its released copy, with the reason; or, with a
    `box`, black out that region of the picture only."""
    item = requests_service.get_item(session, request_id=request_id, item_id=item_id)
    if item.removed_at is not None:
        raise Conflict("this item was taken out of the set; add its post again to redact it")
    reason = _exemption(exemption)
    already = any(
        r.kind == "media" and r.media_sha256 == media_sha256
        for r in requests_service.redactions_of(session, item.id)
    )
    if already:
        raise Conflict("that file is already withheld from this item")
    redaction_service.add_redaction(
        session,
        officer=officer,
        request_id=request_id,
        item_id=item_id,
        kind="region" if box else "media",
        exemption=reason,
        media_sha256=media_sha256,
        box=box,
        store=store,
    )
    _release(session, store=store, officer=officer, request_id=request_id, item_id=item_id)
