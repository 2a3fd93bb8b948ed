"""Every glyph drawn, or the gap recorded: font coverage at start-up and at render time.

The restricted-font tests run PostVault as real processes (`postvault serve`, `postvault
snapshots rerender`) with FONTCONFIG_FILE pointing at a folder without CJK or emoji fonts, as a
machine without `scripts/install-fonts` would be.
"""

from __future__ import annotations

import io
import subprocess
import sys
import time
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import httpx
import pypdf
import pypdfium2
import pytest
from pdfminer.high_level import extract_text as pdfminer_text
from sqlalchemy import select

from app.config import Settings
from app.db import Database
from app.platforms.collected import CollectedPost
from app.snapshots import fonts
from app.snapshots.fonts import Coverage, missing_sentence, parse_charsets, script_report
from app.snapshots.metadata import read_missing_glyphs
from app.snapshots.models import Snapshot
from app.snapshots.render import render_snapshot
from app.snapshots.schemas import MediaFile
from app.storage.local import LocalStore
from tests.factories import bluesky_capture, make_view
from tests.snapshots.conftest import ArchivePost
from tests.snapshots.fonts import restricted_fontconfig, tofu
from tests.test_serve import free_port

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BUS = "\U0001f68d"
ARABIC_WORD = "حافلة"
CHINESE_WORDS = "公交"
POST_TEXT = f"{BUS} {ARABIC_WORD} {CHINESE_WORDS} Snow emergency: parking ban on arterial streets"


def bus_post() -> tuple[CollectedPost, list[MediaFile]]:
    post, media = bluesky_capture()
    return post.model_copy(update={"text": POST_TEXT, "replies": []}), media


def pdfium_text(pdf: bytes) -> str:
    document = pypdfium2.PdfDocument(pdf)
    try:
        return "".join(document[i].get_textpage().get_text_bounded() for i in range(len(document)))
    finally:
        document.close()


def squashed(text: str) -> str:
    """NFKC, without whitespace, NULs or bidi controls (pdftotext adds embedding marks)."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(
        c for c in text if not c.isspace() and unicodedata.category(c) not in ("Cc", "Cf")
    )


# --- coverage, from fontconfig's own answer --------------------------------------------------


def test_charsets_are_merged_and_missing_characters_listed_in_order_of_appearance() -> None:
    coverage = parse_charsets("20-7e a0-17f\n600-6ff 20-21\n")
    assert coverage.covers("A")
    assert coverage.covers("ب")
    assert not coverage.covers("公")
    # Spaces, joiners, direction marks and variation selectors need no glyph of their own.
    text = f"a 公 {BUS}\u200d\ufe0f\u200f 交 公"
    assert [fonts.codepoint_label(c) for c in coverage.missing(text)] == [
        "U+516C",
        "U+1F68D",
        "U+4EA4",
    ]
    assert missing_sentence(["U+1F68D", "U+516C", "U+4EA4"]) == (
        "3 characters could not be drawn: U+1F68D, U+516C, U+4EA4"
    )
    assert missing_sentence(["U+E000"]) == "1 character could not be drawn: U+E000"


def test_the_script_report_names_each_promised_script_without_a_font() -> None:
    latin_only = Coverage.from_ranges([(0x20, 0x24F)])
    report = script_report(latin_only)
    assert report.covered == ["Latin"]
    assert report.missing == [
        "Arabic",
        "Hebrew",
        "CJK",
        "emoji",
        "Pahawh Hmong",
        "Nyiakeng Puachue Hmong",
    ]
    assert report.summary().startswith("missing: Arabic, Hebrew, CJK")
    # This machine has the fonts of scripts/install-fonts.
    assert script_report().summary() == "ok"


# --- a new user's post: every glyph drawn, and every reader gets the text ----------------------


def test_emoji_arabic_and_chinese_are_drawn_and_every_reader_extracts_the_text() -> None:
    post, media = bus_post()
    pdf = render_snapshot(make_view(post, media))
    assert read_missing_glyphs(pdf) == []
    assert tofu(pdf) == []
    expected = squashed(POST_TEXT)
    by_pypdf = squashed("".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages))
    by_pdftotext = squashed(
        subprocess.run(
            ["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True, check=True
        ).stdout.decode("utf-8")
    )
    by_pdfminer = squashed(pdfminer_text(io.BytesIO(pdf)))
    assert expected in by_pypdf
    assert expected in by_pdftotext
    # pdfminer.six has no bidi algorithm: it gives a right-to-left run in visual order.
    visual = expected.replace(ARABIC_WORD, ARABIC_WORD[::-1])
    assert expected in by_pdfminer or visual in by_pdfminer
    assert "Every character had a font." in pdfium_text(pdf)


def test_a_character_no_font_has_is_counted_and_listed_in_the_record_and_the_xmp() -> None:
    post, media = bluesky_capture()
    post = post.model_copy(update={"text": "Private use: \ue000 and \ue001\ue000", "replies": []})
    pdf = render_snapshot(make_view(post, media))
    assert read_missing_glyphs(pdf) == ["U+E000", "U+E001"]
    text = pdfium_text(pdf)
    assert "2 characters could not be drawn: U+E000, U+E001" in text.replace("\r\n", " ")


# --- a machine without CJK and emoji fonts ----------------------------------------------------


@pytest.fixture
def no_cjk_fonts(tmp_path: Path) -> Path:
    config = restricted_fontconfig(tmp_path / "fontconfig")
    seen = subprocess.run(
        ["fc-list", ":", "family"],
        env={"PATH": "/usr/bin:/bin", "FONTCONFIG_FILE": str(config)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "Noto Sans Arabic" in seen
    assert "CJK" not in seen
    assert "Emoji" not in seen
    return config


def _env(settings: Settings, fontconfig: Path | None) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "POSTVAULT_DATABASE_URL": settings.database_url,
        "POSTVAULT_ARCHIVE_DIR": str(settings.archive_dir),
        "POSTVAULT_RENDER_WORKERS": "1",
        "POSTVAULT_RUN_SCHEDULER": "false",
    }
    if fontconfig is not None:
        env["FONTCONFIG_FILE"] = str(fontconfig)
    return env


def _rerender(settings: Settings, fontconfig: Path | None, *flags: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", "snapshots", "rerender", "--quiet", *flags],
        capture_output=True,
        text=True,
        env=_env(settings, fontconfig),
        cwd=PROJECT_ROOT,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


@pytest.fixture
def serve_without_cjk(settings: Settings, no_cjk_fonts: Path, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env=_env(settings, no_cjk_fonts),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, log_path.read_text()
                time.sleep(0.3)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "no installed font covers" in log_path.read_text()


def test_without_cjk_fonts_the_gap_shows_on_healthz_in_the_pdf_and_in_its_metadata(
    db: Database,
    settings: Settings,
    archive_post: ArchivePost,
    no_cjk_fonts: Path,
    serve_without_cjk: str,
) -> None:
    archived = archive_post([bus_post()])
    _rerender(settings, no_cjk_fonts)

    health = httpx.get(f"{serve_without_cjk}/healthz", timeout=10)
    assert health.status_code == 200  # captures still work; the gap is reported
    body = health.json()
    assert "CJK" in body["fonts_missing"]
    assert "emoji" in body["fonts_missing"]
    assert "Arabic" not in body["fonts_missing"]
    assert "Latin" not in body["fonts_missing"]
    assert body["fonts"].startswith("missing: ")

    answer = httpx.get(
        f"{serve_without_cjk}/api/v1/posts/{archived.post_id}/versions/1/snapshot.pdf",
        headers=archived.owner.headers,
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    pdf = answer.content
    sentence = "3 characters could not be drawn: U+1F68D, U+516C, U+4EA4"
    assert sentence in pdfium_text(pdf).replace("\r\n", " ")
    assert read_missing_glyphs(pdf) == ["U+1F68D", "U+516C", "U+4EA4"]
    with db.session() as session:
        row = session.scalars(select(Snapshot)).one()
        assert (row.missing_glyph_count, row.missing_glyphs) == (
            3,
            ["U+1F68D", "U+516C", "U+4EA4"],
        )


def test_rerender_missing_glyphs_makes_new_snapshots_once_fonts_are_installed(
    db: Database,
    settings: Settings,
    store: LocalStore,
    archive_post: ArchivePost,
    no_cjk_fonts: Path,
) -> None:
    gap = archive_post([bus_post()])
    _rerender(settings, no_cjk_fonts)
    # Still without the fonts: the same bytes come out, nothing new is kept.
    assert "0 new snapshots, 1 unchanged" in _rerender(settings, no_cjk_fonts, "--missing-glyphs")
    assert "1 new snapshots, 0 unchanged" in _rerender(settings, None, "--missing-glyphs")
    with db.session() as session:
        rows = session.scalars(
            select(Snapshot).where(Snapshot.version_id == gap.version_ids[0]).order_by(Snapshot.id)
        ).all()
        assert [(r.is_current, r.missing_glyph_count) for r in rows] == [(False, 3), (True, 0)]
        assert all(store.exists(r.sha256) for r in rows)  # the old snapshot is kept
    # Its current snapshot now has every glyph: nothing left to render again.
    assert "0 new snapshots, 0 unchanged" in _rerender(settings, None, "--missing-glyphs")
