"""Issue 17, separating information (Wis. Stat. 19.36(6)): text is taken out of any field of an
item (replies, author names and handles, alt text, link cards, web-capture facts), media are
withheld whole, and a region of an image is blacked out by replacing its pixels. The package
is then searched file by file (PDFs with PDFium, pdftotext and the leak check, JSON, CSV, the
images inside the PDFs): no redacted string and no original pixel of the region is left."""

from __future__ import annotations

import hashlib
import io
import random
import shutil
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pikepdf
import pypdfium2
from fastapi.testclient import TestClient
from PIL import Image

from app.open_records.redaction import find_leaks, original_files_in
from app.open_records.release_check import payload_leaks
from app.open_records.separation import Scrubber, black_out, text_fields
from app.platforms.collected import Author, CollectedPost
from app.snapshots.schemas import MediaFile
from app.storage.local import LocalStore
from tests.conftest import MakePerson, Person
from tests.factories import bluesky_capture, sha
from tests.snapshots.conftest import ArchivePost

BOX = {"x": 120, "y": 80, "width": 240, "height": 160}
SIZE = (640, 480)
NAME = "Wilhelmina Yarrowfield"  # the post author's display name
REPLIER = "Bartholomew Quince"  # a reply's author
HANDLE = "quince-resident.test"  # that reply author's handle
PHONE = "608-555-0199"  # in a reply's text
ALT = "Xylophonic cellar door"  # the picture's alt text
CARD = "Kumquat Ordinance Memo"  # the link card's title
PAGE = "Gardenia Zeppelin"  # in a web capture's page text
CHECKED = "Ottoline Marchbanks"  # the author the web capture's metadata names
SECRETS = [NAME, REPLIER, HANDLE, PHONE, ALT, CARD]
WEB_SECRETS = [PAGE, CHECKED]


def ok(response: httpx.Response) -> Any:
    assert 200 <= response.status_code < 300, response.text
    return response.json()


def noisy_picture() -> tuple[bytes, bytes]:
    """A PNG, flat grey with random noise inside BOX; and the noise's raw RGB rows."""
    image = Image.new("RGB", SIZE, (128, 128, 128))
    rng = random.Random(17)
    noise = bytes(rng.randrange(40, 256) for _ in range(BOX["width"] * BOX["height"] * 3))
    patch = Image.frombytes("RGB", (BOX["width"], BOX["height"]), noise)
    image.paste(patch, (BOX["x"], BOX["y"]))
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=None)
    return out.getvalue(), noise


def rich_post() -> tuple[CollectedPost, list[MediaFile], bytes]:
    post, media = bluesky_capture(image_kind="png", reply_count=3)
    picture, noise = noisy_picture()
    ref = post.media[0].model_copy(
        update={"sha256": sha(picture), "size": len(picture), "alt_text": ALT}
    )
    replies = list(post.replies)
    replies[1] = replies[1].model_copy(
        update={"author": Author(handle=HANDLE, display_name=REPLIER)}
    )
    replies[2] = replies[2].model_copy(update={"text": f"Call me at {PHONE} about the detour"})
    card = post.link_card.model_copy(update={"title": CARD}) if post.link_card else None
    post = post.model_copy(
        update={
            "author": post.author.model_copy(update={"display_name": NAME}),
            "media": [ref],
            "replies": replies,
            "link_card": card,
            "text": f"{post.text} Thanks to {REPLIER} for the photo.",
        }
    )
    files = [
        media[0].model_copy(update={"sha256": sha(picture), "data": picture, "alt_text": ALT}),
        media[1],  # the avatar
    ]
    return post, files, noise


def web_post() -> tuple[CollectedPost, list[MediaFile]]:
    shot = Image.new("RGB", (800, 600), (240, 240, 240))
    out = io.BytesIO()
    shot.save(out, format="PNG")
    data = out.getvalue()
    post = CollectedPost(
        platform="web",
        post_id="https://parks.example.gov/news/1",
        url="https://parks.example.gov/news/1",
        author=Author(handle="parks.example.gov"),
        text=f"Volunteers wanted. Contact {PAGE} at the office.",
        title="Volunteer day",
        extra={
            "final_url": "https://parks.example.gov/news/1",
            "author_check": {"result": "mismatch", "found": [CHECKED], "source": "meta author"},
        },
        source={"capture": {"requested_url": "https://parks.example.gov/news/1"}},
    )
    files = [
        MediaFile(
            sha256=sha(data), mime_type="image/png", data=data, role="screenshot", owner="post"
        )
    ]
    return post, files


def span(fields: dict[str, str], field: str, secret: str) -> dict[str, Any]:
    start = fields[field].index(secret)
    return {"field": field, "start": start, "end": start + len(secret)}


def pdf_images(pdf: bytes) -> list[Image.Image]:
    """Every picture inside a PDF: drawn images and embedded files that are pictures."""
    pictures: list[Image.Image] = []
    with pikepdf.open(io.BytesIO(pdf)) as document:
        for obj in document.objects:
            if not isinstance(obj, pikepdf.Stream):
                continue
            if obj.get("/Subtype") == "/Image":
                pictures.append(pikepdf.PdfImage(obj).as_pil_image().convert("RGB"))
                continue
            data = obj.read_bytes()
            if data[:8] == b"\x89PNG\r\n\x1a\n" or data[:3] == b"\xff\xd8\xff":
                pictures.append(Image.open(io.BytesIO(data)).convert("RGB"))
    return pictures


def text_of_pdf(path: Path) -> str:
    document = pypdfium2.PdfDocument(path.read_bytes())
    try:
        text = "\n".join(
            document[i].get_textpage().get_text_bounded() for i in range(len(document))
        )
    finally:
        document.close()
    if shutil.which("pdftotext"):
        text += subprocess.run(
            ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True
        ).stdout
    return " ".join(text.split())


def make_package(client: TestClient, officer: Person, rid: int) -> bytes:
    started = ok(client.post(f"/api/v1/requests/{rid}/package", headers=officer.headers))
    deadline = time.monotonic() + 300
    while True:
        state = ok(
            client.get(f"/api/v1/requests/{rid}/package/{started['id']}", headers=officer.headers)
        )
        if state["status"] in ("done", "failed"):
            break
        assert time.monotonic() < deadline, state
        time.sleep(0.2)
    assert state["status"] == "done", state["error"]
    download = client.get(
        f"/api/v1/requests/{rid}/package/{started['id']}/download", headers=officer.headers
    )
    assert download.status_code == 200
    content: bytes = download.content
    return content


def test_any_field_media_and_regions_leave_the_package(
    client: TestClient,
    make_person: MakePerson,
    archive_post: ArchivePost,
    store: LocalStore,
    tmp_path: Path,
) -> None:
    officer = make_person("records_officer")
    h = officer.headers
    post, files, noise = rich_post()
    picture, avatar = files
    web, web_files = web_post()
    rich = archive_post([(post, files)])
    page = archive_post([(web, web_files)])
    rid = ok(
        client.post(
            "/api/v1/requests",
            json={
                "received_at": "2026-11-20T10:00:00-06:00",
                "description": "Posts about the detour",
                "confirm_nothing_held": True,
            },
            headers=h,
        )
    )["id"]
    items = ok(
        client.post(
            f"/api/v1/requests/{rid}/items",
            json={"post_ids": [rich.post_id, page.post_id]},
            headers=h,
        )
    )
    by_post = {item["post_id"]: item for item in items}
    item, web_item = by_post[rich.post_id], by_post[page.post_id]
    base = f"/api/v1/requests/{rid}/items/{item['id']}"
    fields = {f["field"]: f["text"] for f in ok(client.get(f"{base}/fields", headers=h))}
    reply1, reply2 = post.replies[1].id, post.replies[2].id
    assert fields[f"replies.{reply2}.text"].endswith("about the detour")
    assert fields["media.0.alt_text"] == ALT
    why = "personal information of a member of the public (Wis. Stat. 19.36(6))"
    for body in (
        span(fields, "author.display_name", NAME),
        span(fields, f"replies.{reply1}.author.display_name", REPLIER),
        span(fields, f"replies.{reply1}.author.handle", HANDLE),
        span(fields, f"replies.{reply2}.text", PHONE),
        span(fields, "media.0.alt_text", ALT),
        span(fields, "link_card.title", CARD),
    ):
        ok(
            client.post(
                f"{base}/redactions", json={"kind": "text", **body, "exemption": why}, headers=h
            )
        )
    ok(
        client.post(
            f"{base}/redactions",
            json={"kind": "media", "media_sha256": avatar.sha256, "exemption": why},
            headers=h,
        )
    )
    redacted = ok(
        client.post(
            f"{base}/redactions",
            json={"kind": "region", "media_sha256": picture.sha256, "box": BOX, "exemption": why},
            headers=h,
        )
    )
    assert {r["kind"] for r in redacted["redactions"]} == {"text", "media", "region"}
    web_base = f"/api/v1/requests/{rid}/items/{web_item['id']}"
    web_fields = {f["field"]: f["text"] for f in ok(client.get(f"{web_base}/fields", headers=h))}
    for body in (
        span(web_fields, "text", PAGE),
        span(web_fields, "extra.author_check.found.0", CHECKED),
    ):
        ok(
            client.post(
                f"{web_base}/redactions", json={"kind": "text", **body, "exemption": why}, headers=h
            )
        )

    data = make_package(client, officer, rid)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(tmp_path / "bag")
    [root] = list((tmp_path / "bag").iterdir())
    every_file = [p for p in root.rglob("*") if p.is_file()]
    pdfs = [p for p in every_file if p.suffix == ".pdf"]
    assert len(pdfs) >= 4  # two items, the combined PDF, the letter
    originals = {picture.sha256, avatar.sha256, web_files[0].sha256}
    noise_rows = [noise[i : i + 96] for i in range(0, len(noise), len(noise) // 7)][:7]
    found_blacked_out = 0
    for path in every_file:
        raw = path.read_bytes()
        assert hashlib.sha256(raw).hexdigest() not in originals, path
        assert picture.data not in raw, path
        assert avatar.data not in raw, path
        if path.suffix == ".pdf":
            words = text_of_pdf(path)
            for secret in SECRETS + WEB_SECRETS:
                assert secret not in words, (secret, path.name)
            assert find_leaks(raw, SECRETS + WEB_SECRETS) == [], path.name
            assert original_files_in(raw, originals) == set(), path.name
            for image in pdf_images(raw):
                pixels = image.tobytes()
                for row in noise_rows:
                    assert row not in pixels, path.name
                if image.size == SIZE:
                    found_blacked_out += 1
                    inside = image.crop(
                        (
                            BOX["x"] + 4,
                            BOX["y"] + 4,
                            BOX["x"] + BOX["width"] - 4,
                            BOX["y"] + BOX["height"] - 4,
                        )
                    )
                    low, high = inside.convert("L").getextrema()
                    assert isinstance(high, int | float)
                    assert high < 40, (path.name, low, high)
                    outside = image.getpixel((20, 20))
                    assert isinstance(outside, tuple)
                    assert abs(outside[0] - 128) < 20  # the rest of the picture is kept
        else:
            text = raw.decode("utf-8", "ignore")
            for secret in SECRETS + WEB_SECRETS:
                assert secret not in text, (secret, path.name)
    assert found_blacked_out >= 2  # drawn on the page and attached, in the item and combined
    released = next(p for p in pdfs if f"post-{rich.post_id}-" in p.name)
    assert "REDACTED" in text_of_pdf(released)

    # The check can fail: the archived originals hold every string and file taken out.
    after = {i["post_id"]: i for i in ok(client.get(f"/api/v1/requests/{rid}/items", headers=h))}
    snapshot = store.get(after[rich.post_id]["archived_sha256"])
    assert set(find_leaks(snapshot, SECRETS)) == set(SECRETS)
    assert {picture.sha256, avatar.sha256} <= original_files_in(snapshot, originals)
    web_snapshot = store.get(after[page.post_id]["archived_sha256"])
    assert set(find_leaks(web_snapshot, WEB_SECRETS)) == set(WEB_SECRETS)


def test_bad_redactions_are_a_clear_4xx(
    client: TestClient, make_person: MakePerson, archive_post: ArchivePost
) -> None:
    officer = make_person("records_officer")
    h = officer.headers
    post, files, _ = rich_post()
    rich = archive_post([(post, files)])
    rid = ok(
        client.post(
            "/api/v1/requests",
            json={"received_at": "2026-11-20", "description": "x", "confirm_nothing_held": True},
            headers=h,
        )
    )["id"]
    [item] = ok(
        client.post(f"/api/v1/requests/{rid}/items", json={"post_ids": [rich.post_id]}, headers=h)
    )
    base = f"/api/v1/requests/{rid}/items/{item['id']}/redactions"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "text", "field": "replies.nope.text", "start": 0, "end": 2}, "no text field"),
        ({"kind": "text", "field": "media.0.alt_text", "start": 0, "end": 999}, "within the field"),
        ({"kind": "region", "media_sha256": files[0].sha256}, "needs box"),
        (
            {
                "kind": "region",
                "media_sha256": files[0].sha256,
                "box": {"x": 5000, "y": 0, "width": 5, "height": 5},
            },
            "outside the picture",
        ),
        ({"kind": "region", "media_sha256": "0" * 64, "box": BOX}, "not part of version"),
        ({"kind": "media", "media_sha256": files[0].sha256, "box": BOX}, "leave out box"),
    ]
    for body, words in cases:
        refused = client.post(base, json={**body, "exemption": "x"}, headers=h)
        assert refused.status_code == 422, (body, refused.text)
        assert words in refused.json()["detail"], (body, refused.json()["detail"])


def test_black_out_replaces_pixels_and_strips_metadata() -> None:
    image = Image.new("RGB", (100, 80), (200, 30, 30))
    out = io.BytesIO()
    exif = Image.Exif()
    exif[0x010E] = "secret caption"  # ImageDescription
    image.save(out, format="JPEG", exif=exif.tobytes())
    blacked = black_out(out.getvalue(), [{"x": 10, "y": 10, "width": 20, "height": 20}])
    with Image.open(io.BytesIO(blacked)) as result:
        assert result.format == "PNG"
        rgb = result.convert("RGB")
        assert rgb.getpixel((15, 15)) == (0, 0, 0)
        assert rgb.getpixel((50, 50)) != (0, 0, 0)
        assert not result.getexif()
        assert "icc_profile" not in result.info
    assert b"secret caption" not in blacked


def test_fields_scrubber_and_package_check() -> None:
    post, _, _ = rich_post()
    fields = text_fields(post)
    assert fields["author.display_name"] == NAME
    assert any(k.endswith(".author.handle") and v == HANDLE for k, v in fields.items())
    scrub = Scrubber([(NAME, "r1"), ("Wilhelmina", "r2")])
    assert scrub.text(f"by {NAME}") == "by [REDACTED: r1]"  # the longer string goes first
    assert scrub.tree({"sha256": NAME, "text": NAME}) == {"sha256": NAME, "text": "[REDACTED: r1]"}
    assert payload_leaks(
        {"data/manifest.json": f'{{"url": "{NAME}"}}'.encode()}, [NAME], set()
    ) == ["data/manifest.json still holds 1 redacted string(s)"]
    assert payload_leaks({"data/manifest.json": b"{}"}, [NAME], set()) == []


def test_the_request_page_blacks_out_a_region(
    client: TestClient, make_person: MakePerson, archive_post: ArchivePost, db: Any
) -> None:
    from tests.web.support import give_password, page_csrf, sign_in

    officer = make_person("records_officer")
    post, files, _ = rich_post()
    rich = archive_post([(post, files)])
    rid = ok(
        client.post(
            "/api/v1/requests",
            json={"received_at": "2026-11-20", "description": "x", "confirm_nothing_held": True},
            headers=officer.headers,
        )
    )["id"]
    [item] = ok(
        client.post(
            f"/api/v1/requests/{rid}/items",
            json={"post_ids": [rich.post_id]},
            headers=officer.headers,
        )
    )
    give_password(db, officer.user)
    sign_in(client, officer.user.email)
    page = f"/officer/requests/{rid}"
    assert 'name="width"' in client.get(page).text
    form = {
        "csrf_token": page_csrf(client, page),
        "media_sha256": files[0].sha256,
        "exemption": "a bystander's face (Wis. Stat. 19.36(6))",
    }
    bad = client.post(f"{page}/items/{item['id']}/withhold", data={**form, "x": "10", "y": "z"})
    assert bad.status_code == 422
    assert "four whole numbers" in bad.text
    done = client.post(
        f"{page}/items/{item['id']}/withhold",
        data={**form, **{k: str(v) for k, v in BOX.items()}},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert "done=blacked_out" in done.headers["location"]
    [redaction] = ok(client.get(f"/api/v1/requests/{rid}/items", headers=officer.headers))[0][
        "redactions"
    ]
    assert (redaction["kind"], redaction["box"]) == ("region", BOX)
    assert "blacked out" in client.get(page).text
