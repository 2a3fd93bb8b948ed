"""The redaction leak check must be able to fail: it finds Latin, Arabic and Chinese secrets in
unredacted snapshots (all fonts, a glyph missing, no CJK fonts at all), in page text alone, and
in every other place a PDF carries text; and it finds nothing in the redacted copies."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pikepdf
import pytest

from app.open_records.models import Redaction
from app.open_records.pdf_text import Haystack, maps_emoji, normalise, page_texts, pypdf_needed
from app.open_records.redaction import find_leaks, leak_places, redacted_view
from app.snapshots.metadata import read_missing_glyphs
from app.snapshots.render import render_snapshot
from app.snapshots.schemas import SnapshotView
from tests.factories import bluesky_capture, make_view
from tests.snapshots.fonts import restricted_fontconfig
from tests.snapshots.render_elsewhere import render_with_fonts

LATIN = "parking ban"
ARABIC = "حافلة المدرسة"
CJK = "公交车站"
SECRETS = [LATIN, ARABIC, CJK]
TEXT = f"Snow emergency: {LATIN} on arterial streets. {ARABIC} and the {CJK} move north. \U0001f68d"
PRIVATE_USE = "\ue000"  # no installed font has it: the body font gets a custom CMap


Renderer = Callable[[SnapshotView], bytes]


def view_of(text: str) -> SnapshotView:
    post, media = bluesky_capture()
    post = post.model_copy(update={"text": text, "replies": [], "quote_of": None})
    return make_view(post, media)


def redactions_of(text: str) -> list[Redaction]:
    out = []
    for secret in SECRETS:
        start = text.index(secret)
        out.append(
            Redaction(kind="text", start=start, end=start + len(secret), exemption="19.36(6)")
        )
    return out


def redacted(view: SnapshotView, text: str) -> SnapshotView:
    return redacted_view(
        view, text, redactions_of(text), original_sha256="0" * 64, request_number="R-2026-0001"
    )


@pytest.fixture(scope="module", params=["all fonts", "a glyph missing", "no CJK fonts"])
def scenario(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Renderer]:
    name = str(request.param)
    if name == "no CJK fonts":
        config = restricted_fontconfig(tmp_path_factory.mktemp("fontconfig"))
        return TEXT, lambda view: render_with_fonts(view, config)
    if name == "a glyph missing":
        return f"{TEXT} {PRIVATE_USE}", render_snapshot
    return TEXT, render_snapshot


def test_each_secret_is_found_in_the_page_text_of_an_unredacted_snapshot(
    scenario: tuple[str, Renderer],
) -> None:
    text, render = scenario
    pdf = render(view_of(text))
    places = leak_places(pdf, SECRETS)
    assert find_leaks(pdf, SECRETS) == SECRETS
    for secret in SECRETS:
        assert "page text" in places[secret], (secret, places.get(secret))


def test_a_redaction_that_left_the_page_text_is_caught_without_the_source_json(
    scenario: tuple[str, Renderer],
) -> None:
    """The issue's case: the embedded source is redacted, the drawn text is not."""
    text, render = scenario
    view = redacted(view_of(text), text)
    broken = view.model_copy(update={"post": view.post.model_copy(update={"text": text})})
    pdf = render(broken)
    if text.endswith(PRIVATE_USE):
        assert read_missing_glyphs(pdf) == ["U+E000"]
    assert find_leaks(pdf, SECRETS) == SECRETS
    for secret in SECRETS:
        assert leak_places(pdf, [secret]) == {secret: ["page text"]}


def test_the_redacted_copy_has_none_of_the_secrets(scenario: tuple[str, Renderer]) -> None:
    text, render = scenario
    pdf = render(redacted(view_of(text), text))
    assert find_leaks(pdf, SECRETS) == []
    # The same check sees the marker that replaced them: it reads this PDF's text.
    marker = "[REDACTED: 19.36(6)]"
    assert "page text" in leak_places(pdf, [marker])[marker]


# --- every other place a PDF carries text ---------------------------------------------------


@pytest.fixture(scope="module")
def clean_copy() -> bytes:
    pdf = render_snapshot(redacted(view_of(TEXT), TEXT))
    assert find_leaks(pdf, SECRETS) == []
    return pdf


def _edited(pdf: bytes, edit: Callable[[pikepdf.Pdf], None]) -> bytes:
    with pikepdf.open(io.BytesIO(pdf)) as document:
        edit(document)
        out = io.BytesIO()
        document.save(out)
        return out.getvalue()


def _annotation(document: pikepdf.Pdf) -> None:
    note = pikepdf.Dictionary(
        Type=pikepdf.Name.Annot,
        Subtype=pikepdf.Name.Text,
        Rect=[10, 10, 30, 30],
        Contents=pikepdf.String(f"reviewer: {CJK}"),
    )
    document.pages[0].obj["/Annots"] = document.make_indirect(pikepdf.Array([note]))


def _form_field(document: pikepdf.Pdf) -> None:
    parent = document.make_indirect(pikepdf.Dictionary(T=pikepdf.String("notes")))
    kid = document.make_indirect(
        pikepdf.Dictionary(FT=pikepdf.Name.Tx, T=pikepdf.String("n1"), V=pikepdf.String(ARABIC))
    )
    parent["/Kids"] = pikepdf.Array([kid])
    document.Root["/AcroForm"] = pikepdf.Dictionary(Fields=pikepdf.Array([parent]))


def _bookmark(document: pikepdf.Pdf) -> None:
    with document.open_outline() as outline:
        outline.root.append(pikepdf.OutlineItem("Contents"))
        outline.root[-1].children.append(pikepdf.OutlineItem(f"The {LATIN} notice", 0))


def _document_information(document: pikepdf.Pdf) -> None:
    document.docinfo["/Subject"] = pikepdf.String(f"about the {LATIN}")


def _xmp(document: pikepdf.Pdf) -> None:
    with document.open_metadata(set_pikepdf_as_editor=False) as meta:
        meta["dc:description"] = f"{CJK} & more"


def _embedded_json(document: pikepdf.Pdf) -> None:
    # ensure_ascii: the file holds \\u516c escapes, not the characters' UTF-8 bytes.
    data = json.dumps({"note": CJK}, ensure_ascii=True).encode()
    document.attachments["notes.json"] = pikepdf.AttachedFileSpec(document, data)


def _embedded_utf16(document: pikepdf.Pdf) -> None:
    data = f"memo: {ARABIC}".encode("utf-16")
    document.attachments["memo.txt"] = pikepdf.AttachedFileSpec(document, data)


@pytest.mark.parametrize(
    ("edit", "secret", "where"),
    [
        (_annotation, CJK, "page 1 annotation"),
        (_form_field, ARABIC, "form field"),
        (_bookmark, LATIN, "bookmark"),
        (_document_information, LATIN, "document information /Subject"),
        (_xmp, CJK, "XMP metadata"),
        (_embedded_json, CJK, "embedded file notes.json"),
        (_embedded_utf16, ARABIC, "embedded file memo.txt"),
    ],
)
def test_a_secret_anywhere_else_in_the_pdf_is_found_and_located(
    clean_copy: bytes, edit: Callable[[pikepdf.Pdf], None], secret: str, where: str
) -> None:
    pdf = _edited(clean_copy, edit)
    assert find_leaks(pdf, SECRETS) == [secret]
    assert where in leak_places(pdf, SECRETS)[secret]


def test_comparison_is_normalised() -> None:
    # Full-width letters, Arabic presentation forms, NULs between characters, line breaks.
    assert normalise("ｐａｒｋｉｎｇ ban") == normalise(LATIN)
    assert normalise("\ufe8d") == normalise("\u0627")
    assert normalise("p\x00a\x00r\x00k\x00i\x00n\x00g\n b\x00a\x00n") == normalise(LATIN)


# Text around each needle that `normalise` partly drops: full-width letters, presentation
# forms, NULs, soft hyphens, direction marks, zero-width joiners, line breaks and tabs.
HAYSTACKS = [
    "a ｐａｒｋｉｎｇ ban here",
    "p\x00a\x00r\x00k\x00i\x00n\x00g\n b\x00a\x00n",
    "park\u00ading\u200e ba\u200dn",
    "parking\tba",  # the needle's end is missing
    "ban parking",  # its words out of order
    "\ufe8d\ufe8e and \u0627",
    f"{CJK[:2]}\u200b{CJK[2:]}",
    "",
]


@pytest.mark.parametrize("haystack", HAYSTACKS)
@pytest.mark.parametrize("secret", [LATIN, "\u0627", CJK, "ban", "p"])
def test_haystack_finds_what_normalise_then_in_finds(haystack: str, secret: str) -> None:
    needle = normalise(secret)
    assert Haystack(haystack).holds(needle) == (needle in normalise(haystack))
    # Texts joined are searched as one, as `normalise` of their concatenation would be.
    halves = (haystack[: len(haystack) // 2], haystack[len(haystack) // 2 :])
    assert Haystack(*halves).holds(needle) == (needle in normalise("".join(halves)))


def test_pypdf_reads_only_a_pdf_where_it_finds_more_than_pdfium() -> None:
    """pypdf is the slow reader, so it reads a PDF only where PDFium's text can fall short: a
    Type 3 font (colour emoji) or right-to-left words (PDFium gives them in visual order)."""

    def pdfium_text(pdf: bytes) -> str:
        return "\n".join(part.text for part in page_texts(pdf))

    latin = render_snapshot(view_of(f"Snow emergency: {LATIN} on arterial streets."))
    assert not pypdf_needed(latin, pdfium_text(latin))
    assert find_leaks(latin, SECRETS) == [LATIN]

    # An emoji ending a line: PDFium's text leaves it out, pypdf's has it.
    emoji = "\U0001f68d"
    with_emoji = render_snapshot(view_of(f"Snow emergency: {LATIN} on arterial streets. {emoji}"))
    assert pypdf_needed(with_emoji, "")  # its font maps glyphs to emoji
    assert leak_places(with_emoji, [emoji]) == {emoji: ["page text"]}

    arabic = render_snapshot(view_of(f"Snow emergency: {ARABIC} on arterial streets."))
    assert pypdf_needed(arabic, pdfium_text(arabic))
    assert find_leaks(arabic, SECRETS) == [ARABIC]


def test_text_drawn_outside_the_page_is_found_without_pypdf() -> None:
    """PDFium reads the page's box unless told otherwise; a line drawn beyond it (overflowing,
    or hidden there) is still text a reader can extract, so the check reads past the box."""

    def off_page(document: pikepdf.Pdf) -> None:
        page = document.pages[0]
        page.obj.Resources.Font["/LeakF1"] = document.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
            )
        )
        page.contents_add(
            document.make_stream(f"BT /LeakF1 9 Tf 2000 -500 Td (the {LATIN} list) Tj ET".encode())
        )

    latin_only = render_snapshot(view_of("Snow emergency on arterial streets."))
    pdf = _edited(latin_only, off_page)
    pdfium = next(page_texts(pdf))
    assert not pypdf_needed(pdf, pdfium.text)  # PDFium's text is the only page text read
    assert normalise(LATIN) in normalise(pdfium.text)
    assert "page text" in leak_places(pdf, [LATIN])[LATIN]


def _cmap(*sections: str) -> bytes:
    return ("/CIDInit /ProcSet findresource begin\n" + "\n".join(sections) + "\nend\n").encode()


@pytest.mark.parametrize(
    ("cmap", "emoji"),
    [
        (_cmap("2 beginbfchar\n<0001> <0041>\n<0002> <00E9>\nendbfchar"), False),
        (_cmap("1 beginbfchar\n<0003> <D83DDE8D>\nendbfchar"), True),  # U+1F68D, a pair
        (_cmap("1 beginbfrange\n<0010> <0030> <0061>\nendbfrange"), False),  # a to A past z
        (_cmap("1 beginbfrange\n<0010> <0012> [<0041> <2615> <0043>]\nendbfrange"), True),
        (_cmap("1 beginbfrange\n<0001> <0004> <2600>\nendbfrange"), True),  # a run of signs
        (_cmap("1 beginbfchar\n<0031> <0031FE0F20E3>\nendbfchar"), True),  # keycap one
        # A map too long to read through counts as drawing emoji (pypdf then reads the file).
        (_cmap("\n".join("1 beginbfchar\n<0001> <0041>\nendbfchar" for _ in range(200_001))), True),
    ],
)
def test_a_font_mapping_glyphs_to_emoji_is_found_in_its_tounicode_map(
    cmap: bytes, emoji: bool
) -> None:
    assert maps_emoji(cmap) is emoji
