"""Rendered snapshots opened with pikepdf and pypdf: PDF/A-3b structure, XMP, associated
files, extractable text, fonts, offline rendering and sanitised platform HTML."""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import io
import logging
import threading
from collections.abc import Iterator

import pikepdf
import pypdf
import pytest
from PIL import Image

from app.snapshots.page_assets import ArchiveFetcher, jpeg_rendition
from app.snapshots.pdf_objects import XMP_NAMESPACE
from app.snapshots.pdfa_check import check_pdfa
from app.snapshots.render import render_snapshot, sanitize_html
from app.snapshots.schemas import ClassificationInfo, RetentionInfo, SnapshotView
from app.snapshots.version import RENDERER_VERSION
from tests.factories import (
    ARABIC,
    CHINESE,
    EMOJI,
    PAHAWH_HMONG,
    RPA_HMONG,
    bluesky_capture,
    make_view,
    mastodon_capture,
    photo,
)
from tests.snapshots.fonts import fonts_for, tofu

DC = "http://purl.org/dc/elements/1.1/"


def bluesky_view(image_kind: str = "png") -> SnapshotView:
    post, media = bluesky_capture(image_kind=image_kind)
    return make_view(
        post,
        media,
        version_number=2,
        version_count=3,
        diff_from_previous="- Detour map\n+ Detour map attached",
        classification=ClassificationInfo(
            label="record",
            rule_id="official_account_public_business",
            reasons=["posted from the mayor's registered account", "announces a road closure"],
        ),
        retention=RetentionInfo(
            series_code="GS50-01-12",
            schedule_id="wi-city-example",
            retention="EVT+2Y",
            due_on=dt.date(2033, 1, 15),
        ),
    )


@pytest.fixture(scope="module")
def view() -> SnapshotView:
    return bluesky_view()


@pytest.fixture(scope="module")
def pdf(view: SnapshotView) -> bytes:
    return render_snapshot(view)


def page_text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_the_snapshot_passes_the_structural_pdfa_check(pdf: bytes) -> None:
    assert check_pdfa(pdf) == []


def test_the_xmp_identifies_pdfa_3b_and_describes_the_post(pdf: bytes, view: SnapshotView) -> None:
    with pikepdf.open(io.BytesIO(pdf)) as document:
        meta = document.open_metadata()
        assert meta.pdfa_status == "3B"
        assert meta["pdfaid:part"] == "3"
        assert meta["pdfaid:conformance"] == "B"
        assert meta["dc:title"] == "Bluesky post by mayor72572.test, version 2 of 3"
        assert meta["dc:creator"] == ["Mayor of Example City"]
        assert meta[f"{{{DC}}}source"] == view.post_url
        assert meta["xmp:CreateDate"] == "2026-01-15T17:05:00Z"
        custom = {
            key.split("}", 1)[1]: value for key, value in meta.items() if XMP_NAMESPACE in key
        }
        assert custom["platform"] == "bluesky"
        assert custom["postUrl"] == view.post_url
        assert custom["postId"] == view.post_id
        assert custom["postCreatedAt"] == "2026-01-15T17:00:00Z"
        assert custom["capturedAt"] == "2026-01-15T17:05:00Z"
        assert custom["versionNumber"] == "2"
        assert custom["sourceSha256"] == view.source_sha256
        assert custom["rendererVersion"] == RENDERER_VERSION
        assert len(document.trailer.ID) == 2
        intents = document.Root.OutputIntents
        assert len(intents) == 1
        assert intents[0].S == "/GTS_PDFA1"
        assert intents[0].DestOutputProfile.read_bytes()[36:40] == b"acsp"


def test_the_source_json_and_every_original_media_file_are_associated_files(
    pdf: bytes, view: SnapshotView
) -> None:
    with pikepdf.open(io.BytesIO(pdf)) as document:
        catalog_af = {spec.objgen for spec in document.Root.AF}
        files = {}
        for name, attached in document.attachments.items():
            spec = attached.obj
            assert spec.objgen in catalog_af
            stream = spec.EF.F
            files[name] = (str(spec.AFRelationship), str(stream.Subtype), stream.read_bytes())
        assert len(catalog_af) == len(files) == 1 + len(view.media)
    relationship, mime, data = files["source.json"]
    assert (relationship, mime) == ("/Source", "/application/json")
    assert hashlib.sha256(data).hexdigest() == view.source_sha256
    assert data == view.source_json
    by_hash = {hashlib.sha256(d).hexdigest(): (r, m) for r, m, d in files.values()}
    for item in view.media:
        assert by_hash[item.sha256] == ("/Data", "/" + item.mime_type)
    assert {m for _, m, _ in files.values()} == {"/application/json", "/image/png", "/image/jpeg"}


def test_the_post_its_replies_and_the_capture_record_are_extractable_text(
    pdf: bytes, view: SnapshotView
) -> None:
    text = page_text(pdf)
    assert "Detour map attached" in text
    assert "Mayor of Example City" in text
    assert "@mayor72572.test" in text
    for reply in view.post.replies:
        assert reply.text.split(" See ")[0] in text
        assert f"@{reply.author.handle}" in text
    assert "Road closure on Main St this weekend." in text  # the quoted post
    assert "Main Street closure notice" in text  # the link card
    assert "version 2 of 3" in text
    assert "2026-01-15 17:05:00 UTC" in text
    assert "official_account_public_business" in text
    assert "announces a road closure" in text
    assert "GS50-01-12" in text
    assert "due 2033-01-15" in text
    assert "+ Detour map attached" in text
    assert view.source_sha256 in text.replace("\n", "")
    assert "bluesky 1.0" in text


def test_non_latin_scripts_and_emoji_are_drawn_with_fonts_that_have_them(pdf: bytes) -> None:
    text = page_text(pdf)
    for sample in (ARABIC, CHINESE, PAHAWH_HMONG, RPA_HMONG, EMOJI):
        assert sample in text
    assert fonts_for(pdf, CHINESE) == {"Noto Sans CJK SC"}
    assert fonts_for(pdf, PAHAWH_HMONG) == {"Noto Sans Pahawh Hmong"}
    assert fonts_for(pdf, EMOJI) == {"Noto Color Emoji"}
    assert fonts_for(pdf, ARABIC.split()[0]) == {"Noto Sans Arabic"}
    assert tofu(pdf) == []


def test_the_tofu_check_finds_a_character_no_font_has() -> None:
    post, media = bluesky_capture()
    post = post.model_copy(update={"text": "Unassigned: \U0010fffd\u0378 end"})
    assert tofu(render_snapshot(make_view(post, media)))


def test_every_font_is_embedded(pdf: bytes) -> None:
    with pikepdf.open(io.BytesIO(pdf)) as document:
        fonts = {}
        for page in document.pages:
            for font in page.Resources.Font.values():
                descendant = font.DescendantFonts[0] if font.Subtype == "/Type0" else font
                descriptor = descendant.FontDescriptor
                fonts[str(font.BaseFont)] = any(
                    key in descriptor for key in ("/FontFile", "/FontFile2", "/FontFile3")
                )
    assert fonts
    assert all(fonts.values()), fonts


def test_rendering_is_deterministic(pdf: bytes, view: SnapshotView) -> None:
    assert render_snapshot(view) == pdf


def test_the_page_shows_a_jpeg_rendition_and_keeps_the_original_png(
    pdf: bytes, view: SnapshotView
) -> None:
    original = next(m for m in view.media if m.mime_type == "image/png")
    with pikepdf.open(io.BytesIO(pdf)) as document:
        images = {
            xobject.objgen: xobject
            for page in document.pages
            for xobject in page.Resources.get("/XObject", {}).values()
            if xobject.get("/Subtype") == "/Image"
        }
        photos = [i for i in images.values() if int(i.Width) >= 1000]
        assert len(photos) == 1
        assert photos[0].Filter == "/DCTDecode"  # the PNG shown as a JPEG
        assert int(photos[0].Width) == 1600
        attached = {
            hashlib.sha256(a.get_file().read_bytes()).hexdigest()
            for a in document.attachments.values()
        }
    assert original.sha256 in attached


def test_jpeg_renditions() -> None:
    small = photo("jpeg", (1600, 1200))
    assert jpeg_rendition(small) == small  # used as it is
    large = jpeg_rendition(photo("jpeg", (4000, 3000)))
    assert large is not None
    with Image.open(io.BytesIO(large)) as image:
        assert (image.format, image.size) == ("JPEG", (2000, 1500))  # decoded at half scale
    png = jpeg_rendition(photo("png", (3000, 2000)))
    assert png is not None
    with Image.open(io.BytesIO(png)) as image:
        assert (image.format, image.size) == ("JPEG", (1500, 1000))
    rgba = io.BytesIO()
    Image.new("RGBA", (50, 40), (255, 0, 0, 0)).save(rgba, format="PNG")
    flattened = jpeg_rendition(rgba.getvalue())
    assert flattened is not None
    with Image.open(io.BytesIO(flattened)) as image:
        assert image.mode == "RGB"
        assert image.getpixel((10, 10)) == (255, 255, 255)  # transparent becomes white
    assert jpeg_rendition(b"not a picture") is None


def test_a_source_that_does_not_match_its_hash_is_not_rendered(view: SnapshotView) -> None:
    damaged = view.model_copy(update={"source_json": view.source_json + b" "})
    with pytest.raises(ValueError, match="does not hash"):
        render_snapshot(damaged)


def test_platform_html_is_cleaned_to_the_allow_list() -> None:
    cleaned = sanitize_html(
        '<p onclick="x()">Hi <a href="javascript:alert(1)">a</a> <a href="https://e.gov/">b</a>'
        '<img src="http://evil/x.png"><script>bad()</script><style>p{}</style>'
        '<iframe src="http://evil/"></iframe><span style="color:red" class="h-card">c</span></p>'
    )
    assert cleaned == '<p>Hi <a>a</a> <a href="https://e.gov/">b</a><span>c</span></p>'


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        _CountingHandler.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()
        self.wfile.write(photo("png", (20, 20)))

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def loopback_server() -> Iterator[str]:
    _CountingHandler.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_rendering_reaches_no_server_and_drops_scripts(loopback_server: str) -> None:
    post, media = mastodon_capture(hostile_host=loopback_server)
    pdf = render_snapshot(make_view(post, media))
    assert _CountingHandler.hits == []
    assert check_pdfa(pdf) == []
    text = page_text(pdf)
    assert "Status with media" in text
    assert "the notice" in text
    assert "bad" not in text
    assert "Thanks" in text  # the reply, its remote image dropped


def test_the_fetcher_serves_only_what_it_was_given(loopback_server: str) -> None:
    fetcher = ArchiveFetcher({"archive:x": (b"abc", "text/plain")})
    assert fetcher.fetch("archive:x").read() == b"abc"
    assert fetcher.fetch("data:text/plain,hello").read() == b"hello"
    for url in (f"http://{loopback_server}/a.png", "file:///etc/passwd", "archive:other"):
        with pytest.raises(ValueError, match="refused"):
            fetcher.fetch(url)
    assert _CountingHandler.hits == []


def test_a_removal_notice_is_shown(view: SnapshotView) -> None:
    removed = view.model_copy(
        update={"version_kind": "removal", "notice": "The platform said: deleted."}
    )
    text = page_text(render_snapshot(removed))
    assert "This post was removed from Bluesky." in text
    assert "The platform said: deleted." in text


def test_each_page_is_laid_out_once(view: SnapshotView, caplog: pytest.LogCaptureFixture) -> None:
    """No second layout pass: the footer's page count, the running string and the page
    breaks are all resolved while the pages are first made (WeasyPrint logs each pass)."""
    with caplog.at_level(logging.INFO, logger="weasyprint.progress"):
        pdf = render_snapshot(view)
    passes = [r.getMessage() for r in caplog.records if r.name == "weasyprint.progress"]
    made = [m for m in passes if m.startswith("Step 5 - Creating layout - Page")]
    pages = len(pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert pages >= 2  # the replies run onto a second page, so the count is not trivial
    assert not [m for m in passes if "Repagination" in m]
    assert made == [f"Step 5 - Creating layout - Page {n}" for n in range(1, pages + 1)]
    assert f"page {pages} of {pages}" in " ".join(page_text(pdf).split())
