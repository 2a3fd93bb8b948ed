"""Letters to the requester, made as PDF/A-3b with the snapshot renderer's settings and kept in
the archive store: the acknowledgment at intake (the request number and what happens next),
and the written denial (in whole or in part) with its reasons and the review rights of
Wis. Stat. 19.35(4)(b), whether or not a response package is ever made.

Session-first services: they flush, the caller owns the transaction. Each letter is made once
per request and kind; making it again returns the one kept.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pikepdf
import weasyprint
from sqlalchemy import select
from sqlalchemy.orm import Session
from weasyprint.formatting_structure.boxes import TableRowBox

from app.audit.service import Actor, record
from app.auth.models import User
from app.config import get_settings
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.open_records.models import (
    LetterKind,
    RecordsRequest,
    RequestLetter,
    RequestStatus,
    received_day,
)

# WeasyPrint writes PDF/A with the renderer's fixed sRGB output intent: the same profile bytes
# as the snapshots, read once per process (the built-in intent leaks a file handle per render).
from app.open_records.separation import Scrubber
from app.snapshots.pdf_objects import OUTPUT_INTENT, srgb_profile
from app.snapshots.render import PDF_VARIANT
from app.storage.base import ArchiveStore
from app.storage.models import StoredObject
from app.storage.service import put_object

REVIEW_RIGHTS = (
    "This determination is subject to review by mandamus under section 19.37(1) of the "
    "Wisconsin Statutes, or upon application to the Attorney General or a district attorney "
    "(Wis. Stat. 19.35(4)(b))."
)
DENIED = (RequestStatus.denied.value, RequestStatus.partly_denied.value)

_PAGE = "size: letter; margin: 2.2cm;"
# The footer of every page of a letter (a margin box: it takes nothing from the body's space,
# so a long letter's body can be laid out without it and the footer laid over it after).
_FOOTER = """@bottom-right { content: "Request __NUMBER__ · page "
          counter(page) " of " counter(pages); font: 8pt 'DejaVu Sans', sans-serif; }"""
_BODY_STYLE = """
  body { font: 11pt/1.45 'DejaVu Sans', sans-serif; color: #000; }
  h1 { font-size: 14pt; margin: 1.2em 0 0.6em; }
  h2 { font-size: 11.5pt; margin: 1.2em 0 0.3em; }
  .quote { margin-left: 1.2em; font-style: italic; }
  .rights { border: 0.8pt solid #000; padding: 6pt 8pt; }
  li { margin-bottom: 0.35em; }
"""
_STYLE = f"\n  @page {{ {_PAGE} {_FOOTER} }}{_BODY_STYLE}"
_STYLE_WITHOUT_FOOTER = f"\n  @page {{ {_PAGE} }}{_BODY_STYLE}"
# The footers of a letter laid out in pieces: one empty page per page of the letter, each an
# empty block after a forced break (a break needs an element after it to make a page).
_FOOTERS_STYLE = f"\n  @page {{ {_PAGE} {_FOOTER} }}\n  div + div {{ break-before: page; }}\n"


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().retention_timezone)


def received_text(request: RecordsRequest) -> str:
    """When the request arrived, in the city's time: the hour only where it is known."""
    local = request.received_at.astimezone(_zone())
    day = f"{local:%A}, {local.day} {local:%B %Y}"
    if not request.received_time_known:
        return day
    return f"{day} at {local:%H:%M} {local.tzname()}"


def _css_string(text: str) -> str:
    """Text safe inside a CSS double-quoted string (and inside a <style> element)."""
    return "".join(ch if ch.isalnum() or ch in " -_./" else f"\\{ord(ch):x} " for ch in text)


def render_letter(*, number: str, title: str, body: str) -> bytes:
    """A letter as PDF/A-3b (the snapshots' variant and output intent)."""
    return render_document(letter_document(number=number, title=title, body=body))


def letter_document(*, number: str, title: str, body: str) -> str:
    """A letter's whole HTML document, for `render_document`."""
    return _document(
        title=title, style=_STYLE.replace("__NUMBER__", _css_string(number)), body=body
    )


def _document(*, title: str, style: str, body: str) -> str:
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
      <title>{html.escape(title)}</title><meta name="author" content="PostVault">
      <style>{style}</style></head>
      <body>{body}</body></html>"""


def render_document(document: str | LetterDocument) -> bytes:
    """A letter's HTML document as PDF/A-3b (module-level: it can run in a render worker).
    A package letter longer than `LETTER_ROWS_PER_PIECE` rows is laid out in pieces (see
    `render_in_pieces`), so that the memory it takes does not grow with its rows."""
    if isinstance(document, LetterDocument):
        if len(document.rows) > LETTER_ROWS_PER_PIECE:
            return render_in_pieces(document)
        document = document.html()
    return _render_pdf(document)


_PDF_OPTIONS: dict[str, Any] = {
    "pdf_variant": PDF_VARIANT,
    "pdf_identifier": True,
    "output_intent": OUTPUT_INTENT,
}


def _layout(document: str) -> weasyprint.Document:
    return weasyprint.HTML(string=document).render(
        color_profiles={OUTPUT_INTENT: srgb_profile()}, **_PDF_OPTIONS
    )


def _render_pdf(document: str) -> bytes:
    pdf: bytes = _layout(document).write_pdf(**_PDF_OPTIONS)
    return pdf


def render_in_pieces(document: LetterDocument) -> bytes:
    """A long package letter as PDF/A-3b, laid out a piece of rows at a time: each piece's
    pages are written to PDF and its layout dropped before the next piece is laid out, so the
    memory taken is a piece's, not the letter's. A piece's last page, where the table goes on
    in the next piece, is laid out again at the top of the next piece, so the pages are those
    of the letter laid out in one pass. The footers ("page X of Y", known once every piece
    is laid out) are laid out after, in a document of empty pages, and laid over the pages."""
    bodies: list[bytes] = []
    start, size = 0, LETTER_ROWS_PER_PIECE
    while not bodies or start < len(document.rows):
        end = min(start + size, len(document.rows))
        piece = _piece(document, start, end)
        if piece is None:  # no page of it other than the first begins a row: a longer piece
            size *= 2
            continue
        body, start = piece
        bodies.append(body)
        size = LETTER_ROWS_PER_PIECE
    return _joined(bodies, number=document.number, title=document.title)


def _piece(document: LetterDocument, start: int, end: int) -> tuple[bytes, int] | None:
    """The PDF of the pages of rows `start` to `end` that the next piece leaves as they are,
    and the row the next piece begins with; None when the table goes on and none of the
    piece's pages but the first begins with a row (the piece is too short to break)."""
    layout = _layout(document.piece_html(start, end))
    keep, resume = len(layout.pages), end
    if end < len(document.rows):
        cut = _clean_break(layout.pages)
        if cut is None:
            return None
        keep, row = cut
        resume = start + row
    pdf: bytes = layout.copy(layout.pages[:keep]).write_pdf(**_PDF_OPTIONS)
    return pdf, resume


def _clean_break(pages: Sequence[weasyprint.Page]) -> tuple[int, int] | None:
    """(page, row): the last page, other than the first, that begins with the start of a
    table row (not with the rest of a row split by the page before, nor with anything before
    the rows), and that row's index in the piece; None when no page does."""
    first_page: dict[int, int] = {}  # row element -> the page each of its fragments is on
    last_page: dict[int, int] = {}
    opening: list[int | None] = []  # the first row fragment of each page
    for number, page in enumerate(pages):
        opening.append(None)
        for box in page._page_box.descendants():
            if not isinstance(box, TableRowBox) or not box.children:
                continue
            if box.children[0].element_tag != "td":
                continue  # the header row
            key = id(box.element)
            first_page.setdefault(key, number)
            last_page[key] = number
            if opening[number] is None:
                opening[number] = key
    order = list(first_page)  # document order: the rows as they first appear
    index = {key: n for n, key in enumerate(order)}
    for number in range(len(pages) - 1, 0, -1):
        opens = opening[number]
        if opens is None or first_page[opens] != number:
            continue  # no row on it, or it begins with the rest of a row split before
        row = index[opens]
        if row > 0 and last_page[order[row - 1]] < number:
            return number, row
    return None


def _joined(bodies: Sequence[bytes], *, number: str, title: str) -> bytes:
    """The pieces' pages in one PDF/A-3b, each with its footer laid over it; the catalog's
    metadata, language and output intent and the document information are the first
    piece's, and the file identifier is made from the contents (the same letter, the same
    bytes)."""
    with contextlib.ExitStack() as stack:
        pieces = [stack.enter_context(pikepdf.open(io.BytesIO(body))) for body in bodies]
        count = sum(len(piece.pages) for piece in pieces)
        style = _FOOTERS_STYLE.replace("__NUMBER__", _css_string(number))
        footers_pdf = _render_pdf(_document(title=title, style=style, body="<div></div>" * count))
        footers = stack.enter_context(pikepdf.open(io.BytesIO(footers_pdf)))
        if len(footers.pages) != count:
            raise RuntimeError(f"{len(footers.pages)} footers laid out for {count} pages")
        joined = stack.enter_context(pikepdf.new())
        for piece in pieces:
            joined.pages.extend(piece.pages)
        for page, footer in zip(joined.pages, footers.pages, strict=True):
            # A piece's pages share one resource dictionary: each page gets its own, so that
            # it names its own footer only.
            resources = pikepdf.Dictionary(dict(page.obj.Resources.items()))
            if "/XObject" in resources:
                resources.XObject = pikepdf.Dictionary(dict(resources.XObject.items()))
            page.obj.Resources = resources
            _lay_over(page, joined.copy_foreign(footer.as_form_xobject()))
        first = pieces[0]
        for key in ("/Metadata", "/Lang", "/OutputIntents", "/MarkInfo"):
            if key in first.Root:
                joined.Root[key] = _copied(joined, first, first.Root[key])
        joined.trailer.Info = _copied(joined, first, first.trailer.Info)
        out = io.BytesIO()
        joined.save(out, deterministic_id=True, min_version=first.pdf_version)
        return out.getvalue()


_FOOTER_NAME = pikepdf.Name("/LetterFooter")


def _lay_over(page: pikepdf.Page, footer: pikepdf.Object) -> None:
    """Draw `footer` (a form XObject of a page of the same size) over `page`, named
    /LetterFooter (Page.add_overlay would name it at random: the bytes would differ)."""
    resources = page.obj.Resources
    if "/XObject" not in resources:
        resources.XObject = pikepdf.Dictionary()
    resources.XObject[_FOOTER_NAME] = footer
    placed = page.calc_form_xobject_placement(footer, _FOOTER_NAME, pikepdf.Rectangle(page.trimbox))
    page.contents_add(b"q\n", prepend=True)  # the page's own drawing state ends before
    page.contents_add(b"Q\n" + placed)
    page.contents_coalesce()


def _copied(target: pikepdf.Pdf, source: pikepdf.Pdf, value: pikepdf.Object) -> pikepdf.Object:
    """`value` of `source` in `target` (a direct array or dictionary is copied with what it
    refers to; a direct name or string is a value)."""
    if value.is_indirect:
        return target.copy_foreign(value)
    if isinstance(value, pikepdf.Array | pikepdf.Dictionary):
        return target.copy_foreign(source.make_indirect(value))
    return value


def _head(request: RecordsRequest, today: dt.date) -> str:
    contact = f"<br>{html.escape(request.requester_contact)}" if request.requester_contact else ""
    return (
        f"<p>{today.isoformat()}</p>"
        f"<p>To: {html.escape(request.requester_name or 'Requester')}{contact}</p>"
    )


def acknowledgment_body(request: RecordsRequest, *, officer_name: str, today: dt.date) -> str:
    """The acknowledgment: the request number and what happens next."""
    held = (
        "<li>Records that may answer it were placed on hold when it arrived.</li>"
        if request.saved_searches
        else ""
    )
    return f"""{_head(request, today)}
      <h1>Open-records request {html.escape(request.number)}: received</h1>
      <p>We received your request on {html.escape(received_text(request))}. Its number is
        <strong>{html.escape(request.number)}</strong>; please give it in any message about
        the request.</p>
      <p>You asked for:</p>
      <p class="quote">“{html.escape(request.description)}”</p>
      <h2>What happens next</h2>
      <ol>
        <li>We search the records we keep, including archived social-media posts, for the
          records that answer your request, and respond as soon as practicable and without
          delay (Wis. Stat. 19.35(4)(a)).</li>
        <li>No record that answers your request is destroyed while it is open, nor for the
          period the law sets after a decision (Wis. Stat. 19.35(5)).</li>
        {held}
        <li>If part of a record may not be released, the rest is released with each cut marked
          and its reason given (Wis. Stat. 19.36(6)).</li>
        <li>If the request is denied in whole or in part, you receive the reasons in writing,
          with your rights of review (Wis. Stat. 19.35(4)(b)).</li>
        <li>Fees are limited to the actual, necessary and direct cost of copies and of
          mailing, and of locating records only when that comes to $50 or more
          (Wis. Stat. 19.35(3)); you are told of any fee before it is charged.</li>
      </ol>
      <p>{html.escape(officer_name)}<br>Records officer</p>"""


def denial_body(request: RecordsRequest, *, officer_name: str, today: dt.date) -> str:
    """The written denial of 19.35(4)(b): the decision, its reasons and the review rights."""
    partly = request.status == RequestStatus.partly_denied
    decision = "is granted in part and denied in part" if partly else "is denied"
    days = 90 if request.requester_committed else 60
    return f"""{_head(request, today)}
      <h1>Open-records request {html.escape(request.number)}: {"denied in part" if partly else "denied"}</h1>
      <p>Your request received on {html.escape(received_text(request))}, for</p>
      <p class="quote">“{html.escape(request.description)}”</p>
      <p>{decision}.</p>
      <h2>Reasons</h2>
      <p>{html.escape(request.decision_reason or "")}</p>
      <h2>Your rights of review</h2>
      <p class="rights">{REVIEW_RIGHTS}</p>
      <p>The records that answer your request are not destroyed for at least {days} days after
        this denial, nor while an action for mandamus about them is pending
        (Wis. Stat. 19.35(5)).</p>
      <p>{html.escape(officer_name)}<br>Records officer</p>"""


def letter_of(session: Session, *, request_id: int, kind: LetterKind) -> RequestLetter | None:
    return session.scalar(
        select(RequestLetter).where(
            RequestLetter.request_id == request_id, RequestLetter.kind == kind.value
        )
    )


def letters_of(session: Session, request_id: int) -> list[RequestLetter]:
    return list(
        session.scalars(
            select(RequestLetter)
            .where(RequestLetter.request_id == request_id)
            .order_by(RequestLetter.id)
        )
    )


def make_letter(
    session: Session,
    *,
    store: ArchiveStore,
    request: RecordsRequest,
    kind: LetterKind,
    officer: User | None,
    actor: Actor,
) -> RequestLetter:
    """Make, store and record the letter of `kind` (once: an existing one is returned)."""
    existing = letter_of(session, request_id=request.id, kind=kind)
    if existing is not None:
        return existing
    if kind == LetterKind.denial and request.status not in DENIED:
        raise Conflict(f"request {request.number} is not denied: it has no denial letter")
    signer = officer
    if signer is None and request.assigned_to_id is not None:
        signer = session.get(User, request.assigned_to_id)
    if signer is None:
        signer = session.get(User, request.created_by_id)
    name = signer.name if signer is not None and signer.name else "The records custodian"
    today = received_day(utcnow())
    make = acknowledgment_body if kind == LetterKind.acknowledgment else denial_body
    title = f"Open-records request {request.number}: {kind.value} letter"
    pdf = render_letter(
        number=request.number, title=title, body=make(request, officer_name=name, today=today)
    )
    obj = put_object(session, store, pdf, mime_type="application/pdf", kind="request_letter")
    letter = RequestLetter(
        request_id=request.id,
        kind=kind.value,
        sha256=obj.sha256,
        created_by_id=officer.id if officer is not None else None,
    )
    session.add(letter)
    session.flush()
    record(
        session,
        actor=actor,
        action="request.letter_made",
        object_type="records_request",
        object_id=request.id,
        details={"letter_id": letter.id, "kind": kind.value, "sha256": obj.sha256},
    )
    return letter


def read_letter(
    session: Session,
    *,
    store: ArchiveStore,
    officer: User,
    request: RecordsRequest,
    kind: LetterKind,
) -> tuple[RequestLetter, bytes]:
    """The letter's bytes (made now if it is due and missing, e.g. for a request logged before
    letters were made), the reading audited."""
    letter = letter_of(session, request_id=request.id, kind=kind)
    if letter is None:
        if kind == LetterKind.denial and request.status not in DENIED:
            raise NotFound(f"request {request.number} was not denied: it has no denial letter")
        letter = make_letter(
            session,
            store=store,
            request=request,
            kind=kind,
            officer=officer,
            actor=Actor.of(officer),
        )
    stored = session.get(StoredObject, letter.sha256)
    if stored is not None and stored.destroyed_at is not None:
        # Letters are request files: they end with the request files' retention series.
        raise NotFound(
            f"the {letter.kind} letter of request {request.number} was destroyed on "
            f"{stored.destroyed_at:%Y-%m-%d} at the end of the request files' retention "
            "series; the disposition certificate lists it"
        )
    data = store.get(letter.sha256)  # verified against its hash on read
    record(
        session,
        actor=Actor.of(officer),
        action="request.letter_viewed",
        object_type="records_request",
        object_id=request.id,
        details={"letter_id": letter.id, "kind": letter.kind, "sha256": letter.sha256},
    )
    return letter, data


@dataclass(frozen=True)
class ReleasedRow:
    """One released file as the package letter lists it."""

    name: str
    url: str
    version_number: int
    reasons: tuple[str, ...]
    redacted: bool


_TABLE_STYLE = """<style>
  table { border-collapse: collapse; width: 100%; font-size: 8.5pt; table-layout: fixed; }
  td, th { border: 0.5pt solid #999; padding: 3pt; text-align: left; vertical-align: top;
           word-break: break-all; }
</style>"""


def response_letter(
    request: RecordsRequest, files: Sequence[ReleasedRow], scrub: Scrubber
) -> bytes:
    """The package's letter (PDF/A), rendered here; see `response_letter_document`."""
    return render_document(response_letter_document(request, files, scrub))


# Fixed column widths: the automatic table layout measured every cell of every row (53 s for
# 1,000 rows under load, 10 s with these).
_COLUMNS = (
    '<colgroup><col style="width:27%"><col style="width:35%"><col style="width:8%">'
    '<col style="width:30%"></colgroup>'
)


def response_letter_document(
    request: RecordsRequest, files: Sequence[ReleasedRow], scrub: Scrubber
) -> LetterDocument:
    """The package's letter (PDF/A): the decision, its reasons, the records released with
    their redaction reasons, and the review rights where anything is denied or redacted.
    Redacted text is taken out of it like out of every file of the package."""
    rows = tuple(
        f"<tr><td>{html.escape(f.name)}</td><td>{html.escape(scrub.text(f.url))}</td>"
        f"<td>{f.version_number}</td><td>{html.escape('; '.join(f.reasons) or '—')}</td></tr>"
        for f in files
    )
    denied = request.status in DENIED
    redacted_any = any(f.redacted for f in files)
    decision = {
        RequestStatus.granted.value: "Your request is granted.",
        RequestStatus.partly_denied.value: "Your request is granted in part and denied in part.",
        RequestStatus.denied.value: "Your request is denied.",
    }.get(request.status, "The records below are released in response to your request.")
    reasons = (
        f"<p><strong>Reasons:</strong> {html.escape(scrub.text(request.decision_reason))}</p>"
        if request.decision_reason
        else ""
    )
    note = (
        "<p>Some records are released with parts redacted. Each redaction is marked where it "
        "was made, with its reason (Wis. Stat. 19.36(6)).</p>"
        if redacted_any
        else ""
    )
    rights = f'<p class="rights">{REVIEW_RIGHTS}</p>' if denied or redacted_any else ""
    head = f"""{_TABLE_STYLE}{_head(request, received_day(utcnow()))}
      <h1>Open-records request {html.escape(request.number)}</h1>
      <p>Received {html.escape(received_text(request))}:
        “{html.escape(scrub.text(request.description))}”</p>
      <p>{decision}</p>{reasons}{note}
      <p>{len(files)} record(s) released:</p>
      {_TABLE_OPEN}{_TABLE_HEADER}"""
    return LetterDocument(
        number=request.number,
        title=f"Open-records request {request.number}",
        head=head,
        rows=rows,
        tail=f"\n      {rights}",
    )


# Rows per piece of a long package letter. WeasyPrint holds a document's whole layout until
# its PDF is written, so a letter in one piece takes memory in proportion to its rows; in
# pieces it takes a piece's worth. Measured (bench.letter, 5,000 rows, 2 shared cores): one
# pass peaks at 565 MB; pieces of 200/300/400/500 rows at 168/173/171/180 MB, for 40/44/38/41 s
# CPU against 37 s in one pass (the spread is the machine's load). Larger pieces embed fewer
# copies of the fonts (939 kB against 1,046 kB at 200); 400 is about flat in both.
LETTER_ROWS_PER_PIECE = 400


@dataclass(frozen=True)
class LetterDocument:
    """A package letter's HTML in parts: what comes before the table's rows (`head`, ending
    with the open table and its header row), one `<tr>` per released file, and what follows
    the table (`tail`). Comparable and picklable: it is handed to a render worker, and the
    package compares the one it began with the final one."""

    number: str
    title: str
    head: str
    rows: tuple[str, ...]
    tail: str

    def html(self) -> str:
        """The whole letter as one HTML document (laid out in one pass)."""
        return self.piece_html(0, len(self.rows))

    def piece_html(self, start: int, end: int) -> str:
        """The HTML of rows `start` to `end` (not included) without the page footer: with the
        head before them when `start` is 0, the tail after them when `end` is the last row,
        and otherwise the table continued, at the top of a page, as a page break leaves it."""
        body = self.head if start == 0 else _TABLE_STYLE + _CONTINUED_STYLE + _TABLE_OPEN
        body += "".join(self.rows[start:end]) + "</table>"
        if end >= len(self.rows):
            body += self.tail
        if start == 0 and end >= len(self.rows):
            return letter_document(number=self.number, title=self.title, body=body)
        return _document(title=self.title, style=_STYLE_WITHOUT_FOOTER, body=body)


_TABLE_OPEN = f"<table>{_COLUMNS}"
_TABLE_HEADER = "<tr><th>File</th><th>Post</th><th>Version</th><th>Redaction reasons</th></tr>"
# A piece after the first starts where a page break left the table: at the top of the page
# area, without the body's margin (which a break truncates).
_CONTINUED_STYLE = "<style>body { margin-top: 0; } table { margin-top: 0; }</style>"
