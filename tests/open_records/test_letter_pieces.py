"""Issue 18: a long package letter is laid out in pieces of rows (its memory flat in its rows)
and is still one PDF/A-3b letter: the pages of the letter laid out in one pass, every row in
order, "page X of Y" on every page, the same bytes for the same letter."""

from __future__ import annotations

import datetime as dt
import io
import pickle
import re
import zipfile
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import bagit
import pikepdf
import pypdfium2
import pytest
from fastapi.testclient import TestClient

from app.audit.service import Actor
from app.auth.models import User
from app.db import Database
from app.open_records import letters
from app.open_records import package as package_service
from app.open_records.letters import LetterDocument, ReleasedRow, response_letter_document
from app.open_records.models import RecordsRequest
from app.open_records.separation import Scrubber
from app.snapshots.pdfa_check import check_pdfa
from app.storage.local import LocalStore
from tests.conftest import MakePerson
from tests.factories import bluesky_capture
from tests.snapshots.conftest import ArchivePost

ROW_NAME = re.compile(r"row-\d{4}\.pdf")


def page_texts(data: bytes) -> list[str]:
    document = pypdfium2.PdfDocument(data)
    try:
        return [document[i].get_textpage().get_text_bounded() for i in range(len(document))]
    finally:
        document.close()


def a_request(number: str = "2026-0042") -> RecordsRequest:
    return RecordsRequest(
        number=number,
        received_at=dt.datetime(2026, 11, 2, 15, tzinfo=dt.UTC),
        received_time_known=False,
        description="Posts about the pool",
        status="partly_denied",
        decision_reason="Some posts give residents' telephone numbers.",
        requester_name="Pat Q",
    )


def released(count: int, *, tall_every: int = 0) -> list[ReleasedRow]:
    """`count` rows; with `tall_every`, every so many rows has many reasons (a cell of many
    lines), so that some rows are split by a page break."""
    return [
        ReleasedRow(
            name=f"row-{n:04d}.pdf",
            url=f"https://city.example/@parks/{n}",
            version_number=1 + n % 3,
            reasons=tuple(f"reason {k} of row {n}" for k in range(30))
            if tall_every and n % tall_every == 3
            else (("personal telephone number",) if n % 4 == 0 else ()),
            redacted=n % 4 == 0,
        )
        for n in range(count)
    ]


def one_pass(document: LetterDocument) -> bytes:
    """The letter laid out as before issue 18: one document, footer and all."""
    return letters._render_pdf(document.html())


def assert_footers(texts: list[str], number: str) -> None:
    for n, text in enumerate(texts, start=1):
        assert f"Request {number} · page {n} of {len(texts)}" in text, (n, text[-200:])


@pytest.fixture
def pieces(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Small pieces (40 rows: a little more than a page), and the (start, end) of each piece
    laid out."""
    monkeypatch.setattr(letters, "LETTER_ROWS_PER_PIECE", 40)
    laid_out: list[tuple[int, int]] = []
    piece = letters._piece

    def counted(document: LetterDocument, start: int, end: int) -> tuple[bytes, int] | None:
        laid_out.append((start, end))
        return piece(document, start, end)

    monkeypatch.setattr(letters, "_piece", counted)
    return laid_out


def test_a_long_letter_in_pieces_is_the_letter_laid_out_in_one_pass(
    pieces: list[tuple[int, int]],
) -> None:
    document = response_letter_document(a_request(), released(130), Scrubber([]))
    pdf = letters.render_document(document)

    assert len(pieces) >= 4  # 130 rows, 40 a piece, each piece's last page laid out again
    assert pieces[0][0] == 0
    assert pieces[-1][1] == 130
    assert all(later[0] > earlier[0] for earlier, later in zip(pieces, pieces[1:], strict=False))
    assert check_pdfa(pdf) == []
    assert letters.render_document(document) == pdf  # the same letter, the same bytes

    texts = page_texts(pdf)
    assert len(texts) >= 4
    assert_footers(texts, "2026-0042")
    assert ROW_NAME.findall("\n".join(texts)) == [f"row-{n:04d}.pdf" for n in range(130)]
    whole = " ".join("\n".join(texts).split())
    assert "Open-records request 2026-0042" in whole
    assert "Reasons: Some posts give residents' telephone numbers." in whole
    assert " ".join(letters.REVIEW_RIGHTS.split()) in whole
    assert whole.index("130 record(s) released") < whole.index("row-0000.pdf")
    assert whole.index("row-0129.pdf") < whole.index("This determination is subject")

    # Page for page, the text of the letter laid out in one pass, footers included.
    single = one_pass(document)
    assert page_texts(single) == texts
    with pikepdf.open(io.BytesIO(pdf)) as joined, pikepdf.open(io.BytesIO(single)) as whole_pdf:
        assert joined.pdf_version == whole_pdf.pdf_version
        assert str(joined.docinfo["/Title"]) == "Open-records request 2026-0042"
        assert joined.open_metadata()["dc:title"] == whole_pdf.open_metadata()["dc:title"]
        assert len(joined.Root.OutputIntents) == 1
        for page in joined.pages:
            assert "/LetterFooter" in page.Resources.XObject  # each page, its own footer


def test_rows_split_by_a_page_break_are_neither_lost_nor_doubled(
    pieces: list[tuple[int, int]],
) -> None:
    document = response_letter_document(a_request(), released(90, tall_every=7), Scrubber([]))
    pdf = letters.render_document(document)

    assert len(pieces) >= 3
    assert all(later[0] >= earlier[0] for earlier, later in zip(pieces, pieces[1:], strict=False))
    assert check_pdfa(pdf) == []
    texts = page_texts(pdf)
    assert_footers(texts, "2026-0042")
    assert ROW_NAME.findall("\n".join(texts)) == [f"row-{n:04d}.pdf" for n in range(90)]
    assert page_texts(one_pass(document)) == texts


def test_a_short_letter_is_laid_out_in_one_pass_as_before(
    pieces: list[tuple[int, int]],
) -> None:
    document = response_letter_document(a_request(), released(40), Scrubber([]))
    pdf = letters.render_document(document)
    assert pieces == []
    assert pdf == one_pass(document)
    assert check_pdfa(pdf) == []


def test_the_letter_document_is_comparable_and_picklable() -> None:
    request = a_request()
    document = response_letter_document(request, released(40), Scrubber([]))
    again = pickle.loads(pickle.dumps(document))
    assert again == document
    assert hash(again) == hash(document)
    assert response_letter_document(request, released(40), Scrubber([])) == document
    assert response_letter_document(request, released(41), Scrubber([])) != document
    assert document.html().count("<tr>") == 41  # the header row and one row per file


def in_this_process(fn: Any, argument: Any) -> Future[Any]:
    """A render worker's submit, run here: the test's small pieces apply to the letter."""
    done: Future[Any] = Future()
    done.set_result(fn(argument))
    return done


def test_a_package_with_a_letter_in_pieces(
    client: TestClient,
    db: Database,
    store: LocalStore,
    archive_post: ArchivePost,
    make_person: MakePerson,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr(letters, "LETTER_ROWS_PER_PIECE", 1)
    laid_out: list[int] = []
    piece = letters._piece

    def counted(document: LetterDocument, start: int, end: int) -> tuple[bytes, int] | None:
        laid_out.append(start)
        return piece(document, start, end)

    monkeypatch.setattr(letters, "_piece", counted)
    officer = make_person("records_officer")
    post_ids = [
        archive_post([bluesky_capture(image_kind="jpeg", reply_count=1)]).post_id for _ in range(3)
    ]
    request = client.post(
        "/api/v1/requests",
        json={
            "received_at": "2026-11-02",
            "description": "Posts about the pool",
            "confirm_nothing_held": True,
        },
        headers=officer.headers,
    ).json()
    added = client.post(
        f"/api/v1/requests/{request['id']}/items",
        json={"post_ids": post_ids},
        headers=officer.headers,
    )
    assert added.status_code < 300, added.text
    with db.session() as session:
        user = session.get(User, officer.user.id)
        assert user is not None
        package_id = package_service.start_package(
            session, officer=user, request_id=request["id"]
        ).id
    done = package_service.run_package(
        db,
        store,
        package_id=package_id,
        actor=Actor.system("tests"),
        render_elsewhere=in_this_process,
    )
    assert done.status == "done", done.error
    assert done.sha256 is not None
    # Laid out once, as the items were released (the final document was the same): the rows
    # are all on the first page, so pieces of 1 and 2 rows cannot break, and one of 4 is the
    # whole letter.
    assert laid_out == [0, 0, 0]

    with zipfile.ZipFile(io.BytesIO(store.get(done.sha256))) as archive:
        archive.extractall(tmp_path / "bag")
    bag = bagit.Bag(str(next((tmp_path / "bag").iterdir())))
    assert bag.is_valid()
    root = Path(bag.path)
    items = sorted(
        p.removeprefix("data/items/")
        for p in bag.payload_files()
        if p.startswith("data/items/") and p.endswith(".pdf")
    )
    assert len(items) == 3
    letter = (root / "data" / "letter.pdf").read_bytes()
    assert check_pdfa(letter) == []
    texts = page_texts(letter)
    assert len(texts) == 1
    assert_footers(texts, request["number"])
    flat = "".join("".join(texts).split())
    positions = [flat.index(name) for name in items]
    assert positions == sorted(positions)
