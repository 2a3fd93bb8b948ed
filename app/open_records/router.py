from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.auth.deps import OfficerUser
from app.bounds import DB_INT_MAX, DbId
from app.config import Settings
from app.db import SessionDep
from app.open_records import letters as letters_service
from app.open_records import package as package_service
from app.open_records import redaction as redaction_service
from app.open_records import requests as requests_service
from app.open_records.models import LetterKind, RecordsRequest, RequestItem, RequestStatus
from app.open_records.schemas import (
    ItemField,
    ItemOut,
    ItemRemove,
    ItemsAdd,
    LetterOut,
    NoteCreate,
    NoteOut,
    PackageOut,
    RedactionCreate,
    RedactionOut,
    RequestCreate,
    RequestOut,
    RequestTransition,
    RequestUpdate,
    SearchPage,
    SearchQuery,
)
from app.posts.models import CapturedVersion
from app.search import service as search_service
from app.storage.deps import StoreDep

router = APIRouter(prefix="/api/v1", tags=["open records"])


@router.get("/search", response_model=SearchPage)
def search(
    query: Annotated[SearchQuery, Query()], user: OfficerUser, session: SessionDep
) -> SearchPage:
    """Full-text search over every archived version (records officers only).

    `q`: plain words all match, "quoted phrases", `a OR b`, `-word` excludes. Each hit is one
    version; `snippet` is HTML-escaped text with the matched words in `<mark>`.
    """
    return search_service.search(session, query=query, viewer=user)


# --- Requests -------------------------------------------------------------------------------


def _request_out(session: Session, request: RecordsRequest, settings: Settings) -> RequestOut:
    out = RequestOut.model_validate(request)
    due = requests_service.deadline(
        request,
        today=requests_service.today(),
        calendar=requests_service.business_calendar(),
        settings=settings,
    )
    out.age_business_days = due.age_business_days
    out.due_soon = due.due_soon
    out.overdue = due.overdue
    out.held_posts = requests_service.held_post_count(session, request.id)
    return out


def _item_out(session: Session, item: RequestItem) -> ItemOut:
    version = session.get(CapturedVersion, item.version_id)
    assert version is not None  # foreign key
    post = version.post
    return ItemOut(
        id=item.id,
        post_id=post.id,
        version_id=version.id,
        version_number=version.number,
        platform=post.platform,
        url=post.url,
        captured_at=version.captured_at,
        text=version.text,
        added_at=item.added_at,
        removed_at=item.removed_at,
        removed_reason=item.removed_reason,
        redactions=[
            RedactionOut.model_validate(r) for r in requests_service.redactions_of(session, item.id)
        ],
        archived_sha256=redaction_service.archived_snapshot_sha256(session, version.id),
        redacted_sha256=item.redacted_sha256,
    )


@router.post("/requests", response_model=RequestOut, status_code=status.HTTP_201_CREATED)
def create_request(
    body: RequestCreate,
    officer: OfficerUser,
    session: SessionDep,
    request: Request,
    store: StoreDep,
) -> RequestOut:
    """Log a request; posts matching its saved searches are held at once, before review.
    Without a saved search, `confirm_nothing_held` must be true. The acknowledgment letter is
    made at once (`GET …/letters/acknowledgment.pdf`)."""
    created = requests_service.create_request(
        session,
        officer=officer,
        received_at=body.received,
        description=body.description,
        requester_name=body.requester_name,
        requester_contact=body.requester_contact,
        requester_committed=body.requester_committed,
        saved_searches=body.saved_searches,
        confirm_nothing_held=body.confirm_nothing_held,
        assigned_to_id=body.assigned_to_id,
        store=store,
    )
    return _request_out(session, created, request.app.state.settings)


@router.get("/requests", response_model=list[RequestOut])
def list_requests(
    _officer: OfficerUser,
    session: SessionDep,
    request: Request,
    status_: RequestStatus | None = Query(default=None, alias="status"),
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=DB_INT_MAX),
) -> list[RequestOut]:
    rows, _total = requests_service.list_requests(
        session, status=status_.value if status_ else None, limit=limit, offset=offset
    )
    return [_request_out(session, r, request.app.state.settings) for r in rows]


@router.get("/requests/{request_id}", response_model=RequestOut)
def get_request(
    request_id: DbId, _officer: OfficerUser, session: SessionDep, request: Request
) -> RequestOut:
    return _request_out(
        session, requests_service.get_request(session, request_id), request.app.state.settings
    )


@router.post("/requests/{request_id}/status", response_model=RequestOut)
def change_status(
    request_id: DbId,
    body: RequestTransition,
    officer: OfficerUser,
    session: SessionDep,
    request: Request,
    store: StoreDep,
) -> RequestOut:
    """Move the request on: acknowledged, in_progress, granted, partly_denied, denied, closed.
    A denial (whole or in part) makes its letter with the 19.35(4)(b) review rights."""
    changed = requests_service.transition(
        session,
        officer=officer,
        request_id=request_id,
        status=body.status,
        reason=body.reason,
        store=store,
    )
    return _request_out(session, changed, request.app.state.settings)


@router.patch("/requests/{request_id}", response_model=RequestOut)
def update_request(
    request_id: DbId,
    body: RequestUpdate,
    officer: OfficerUser,
    session: SessionDep,
    request: Request,
) -> RequestOut:
    changed = requests_service.assign(
        session, officer=officer, request_id=request_id, assigned_to_id=body.assigned_to_id
    )
    return _request_out(session, changed, request.app.state.settings)


def _letter_out(letter: object, request_id: int) -> LetterOut:
    out = LetterOut.model_validate(letter)
    out.download = f"/api/v1/requests/{request_id}/letters/{out.kind}.pdf"
    return out


@router.get("/requests/{request_id}/letters", response_model=list[LetterOut])
def list_letters(request_id: DbId, _officer: OfficerUser, session: SessionDep) -> list[LetterOut]:
    """The letters made for the request: the acknowledgment, and the denial letter if denied."""
    requests_service.get_request(session, request_id)
    return [
        _letter_out(letter, request_id)
        for letter in letters_service.letters_of(session, request_id)
    ]


@router.get("/requests/{request_id}/letters/{kind}.pdf")
def download_letter(
    request_id: DbId,
    kind: LetterKind,
    officer: OfficerUser,
    session: SessionDep,
    store: StoreDep,
) -> Response:
    """A letter to the requester as PDF/A (made now if it is due and was not made yet)."""
    records_request = requests_service.get_request(session, request_id)
    letter, data = letters_service.read_letter(
        session, store=store, officer=officer, request=records_request, kind=kind
    )
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": (
                f'attachment; filename="request-{records_request.number}-{letter.kind}.pdf"'
            ),
            "X-Content-SHA256": letter.sha256,
        },
    )


@router.post(
    "/requests/{request_id}/notes", response_model=NoteOut, status_code=status.HTTP_201_CREATED
)
def add_note(
    request_id: DbId, body: NoteCreate, officer: OfficerUser, session: SessionDep
) -> NoteOut:
    return NoteOut.model_validate(
        requests_service.add_note(session, officer=officer, request_id=request_id, body=body.body)
    )


@router.get("/requests/{request_id}/notes", response_model=list[NoteOut])
def list_notes(request_id: DbId, _officer: OfficerUser, session: SessionDep) -> list[NoteOut]:
    return [
        NoteOut.model_validate(n) for n in requests_service.notes(session, request_id=request_id)
    ]


@router.post(
    "/requests/{request_id}/items",
    response_model=list[ItemOut],
    status_code=status.HTTP_201_CREATED,
)
def add_items(
    request_id: DbId, body: ItemsAdd, officer: OfficerUser, session: SessionDep
) -> list[ItemOut]:
    """Add archived versions (all versions of an edited post by default); their posts are held."""
    added = requests_service.add_items(
        session,
        officer=officer,
        request_id=request_id,
        post_ids=body.post_ids,
        search=body.search,
        latest_only=body.latest_only,
    )
    return [_item_out(session, item) for item in added]


@router.get("/requests/{request_id}/items", response_model=list[ItemOut])
def list_items(request_id: DbId, _officer: OfficerUser, session: SessionDep) -> list[ItemOut]:
    return [
        _item_out(session, i) for i in requests_service.list_items(session, request_id=request_id)
    ]


@router.delete("/requests/{request_id}/items/{item_id}", response_model=ItemOut)
def remove_item(
    request_id: DbId, item_id: DbId, body: ItemRemove, officer: OfficerUser, session: SessionDep
) -> ItemOut:
    """Take a version out of the set, with the reason (kept; nothing is deleted)."""
    item = requests_service.remove_item(
        session, officer=officer, request_id=request_id, item_id=item_id, reason=body.reason
    )
    return _item_out(session, item)


# --- Redaction and packages -------------------------------------------------------------------


@router.post(
    "/requests/{request_id}/items/{item_id}/redactions",
    response_model=ItemOut,
    status_code=status.HTTP_201_CREATED,
)
def redact(
    request_id: DbId,
    item_id: DbId,
    body: RedactionCreate,
    officer: OfficerUser,
    session: SessionDep,
    store: StoreDep,
) -> ItemOut:
    """Separate exempt information (19.36(6)): a text span [start, end) of any text field of
    the item (`field`, see `…/fields`), a whole media file, or a region of an image blacked
    out. The redacted copy is rendered and checked at once (the original is never altered)."""
    redaction_service.add_redaction(
        session,
        officer=officer,
        request_id=request_id,
        item_id=item_id,
        kind=body.kind,
        exemption=body.exemption,
        start=body.start,
        end=body.end,
        media_sha256=body.media_sha256,
        field=body.field,
        box=body.box.model_dump() if body.box else None,
        store=store,
    )
    item = requests_service.get_item(session, request_id=request_id, item_id=item_id)
    records_request = requests_service.get_request(session, request_id)
    redaction_service.release_copy(
        session,
        store=store,
        item=item,
        request_number=records_request.number,
        actor=Actor.of(officer),
    )
    return _item_out(session, item)


@router.get("/requests/{request_id}/items/{item_id}/fields", response_model=list[ItemField])
def item_fields(
    request_id: DbId, item_id: DbId, officer: OfficerUser, session: SessionDep
) -> list[ItemField]:
    """Every text field of the item a text redaction can name, with its text (a view of the
    version's content: audited)."""
    item = requests_service.get_item(session, request_id=request_id, item_id=item_id)
    fields = redaction_service.list_fields(session, item=item, officer=officer)
    return [ItemField(field=name, text=text) for name, text in fields.items()]


@router.get("/requests/{request_id}/items/{item_id}/redacted.pdf")
def redacted_pdf(
    request_id: DbId,
    item_id: DbId,
    officer: OfficerUser,
    session: SessionDep,
    store: StoreDep,
) -> Response:
    item = requests_service.get_item(session, request_id=request_id, item_id=item_id)
    data = redaction_service.read_released_copy(session, store=store, item=item, officer=officer)
    return Response(
        data,
        media_type="application/pdf",
        headers={"X-Content-SHA256": item.redacted_sha256 or ""},
    )


@router.post(
    "/requests/{request_id}/package",
    response_model=PackageOut,
    status_code=status.HTTP_202_ACCEPTED,
)
def start_package(
    request_id: DbId, officer: OfficerUser, session: SessionDep, request: Request, store: StoreDep
) -> PackageOut:
    """Start making the response package in the background; poll GET for progress."""
    package = package_service.start_package(
        session,
        officer=officer,
        request_id=request_id,
        lease_seconds=request.app.state.settings.job_lease_seconds,
    )
    session.commit()
    request.app.state.run_in_background(
        package_service.run_package,
        request.app.state.db,
        store,
        package_id=package.id,
        actor=Actor.of(officer),
        lease_seconds=request.app.state.settings.job_lease_seconds,
        stop=request.app.state.stopping,
    )
    return PackageOut.model_validate(package)


@router.get("/requests/{request_id}/package/{package_id}", response_model=PackageOut)
def package_status(
    request_id: DbId, package_id: DbId, _officer: OfficerUser, session: SessionDep
) -> PackageOut:
    return PackageOut.model_validate(
        package_service.get_package(session, request_id=request_id, package_id=package_id)
    )


@router.get("/requests/{request_id}/package/{package_id}/download")
def download_package(
    request_id: DbId,
    package_id: DbId,
    officer: OfficerUser,
    session: SessionDep,
    store: StoreDep,
) -> Response:
    package, data = package_service.download(
        session,
        store=store,
        officer=officer,
        request_id=request_id,
        package_id=package_id,
    )
    records_request = requests_service.get_request(session, request_id)
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="request-{records_request.number}.zip"',
            "X-Content-SHA256": package.sha256 or "",
        },
    )
