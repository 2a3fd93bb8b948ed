"""Snapshot throughput per core: the whole path beside WeasyPrint's bare render of the same HTML.

    .venv/bin/python -m bench.render [--count 10] [--variants jpeg,png] [--workers 2]
                                     [--chromium /usr/bin/chromium]

For a post with one photo (1600x1200, as JPEG and as PNG) and five replies, each snapshot
goes through the whole path in one process: read the version and its media back from SQLite
and the store (hash-verified), build the page (sanitise, JPEG rendition), render with
WeasyPrint, hash, store (fsync) and record (Snapshot row, audit event, commit). The bare rate
is WeasyPrint's own work on the same final HTML with the same PDF options (attachments, PDF/A
variant, the finisher that adjusts its objects before writing, the snapshot user-agent
stylesheet) and nothing else. Bare and whole-path
renders alternate, so a change in machine load hits both alike. Each snapshot is of a
different post with its own photo: nothing is served from a cache.

Beside them, in the same run and on the very same final HTML, Chromium's print-to-PDF
(Debian's chromium through Playwright, one headless browser kept open for the run, the same A4
page and margins from the stylesheet's @page, images inlined as data: URIs before timing): the
figure PostVault's renderer is measured against. The three alternate, one snapshot at a time,
in a rotating order. `--chromium ""` leaves Chromium out.

With --workers N, the whole path is also run through the pool of N render processes.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import functools
import hashlib
import io
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from app.accounts.models import SocialAccount
from app.audit.service import Actor
from app.auth import service as auth_service
from app.db import Database
from app.migrate import upgrade_to_head
from app.platforms.collected import Author, CollectedPost, MediaRef, Reply
from app.posts.models import CapturedVersion, FlaggedPost, VersionMedia
from app.snapshots import service
from app.snapshots.page_assets import ArchiveFetcher
from app.snapshots.pdf_objects import finisher
from app.snapshots.pool import render_pool
from app.snapshots.render import SnapshotHTML, pdf_options, prepare, render_snapshot
from app.snapshots.version import TEMPLATES_DIR
from app.storage.local import LocalStore
from app.storage.service import put_object
from bench.machine import describe


def photo(kind: str, seed: int) -> bytes:
    image = Image.new("RGB", (1600, 1200))
    draw = ImageDraw.Draw(image)
    for y in range(0, 1200, 4):
        shade = y * 255 // 1200
        draw.rectangle((0, y, 1600, y + 3), fill=(shade, (shade + seed * 37) % 256, 255 - shade))
    for i in range(60):
        x, y = (i * 97 + seed * 31) % 1600, (i * 61 + seed * 17) % 1200
        draw.ellipse((x, y, x + 140, y + 100), outline=(255, 255, 255), width=6)
    # Sensor noise, as in a real photo (it is what makes photo PNGs large and slow).
    noise = Image.frombytes("RGB", image.size, random.Random(seed).randbytes(1600 * 1200 * 3))
    image = Image.blend(image, noise, 0.06)
    out = io.BytesIO()
    image.save(out, format="PNG" if kind == "png" else "JPEG", quality=90)
    return out.getvalue()


def canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def archive_versions(
    database: Database, store: LocalStore, kind: str, count: int, label: str = ""
) -> list[int]:
    """`count` flagged posts, each with one captured version: a photo and five replies."""
    ids = []
    with database.session() as session:
        user = auth_service.create_user(
            session,
            email=f"bench-{kind}{label}@city.example",
            name="Bench",
            role="employee",
            actor=Actor.system("bench"),
        )
        for n in range(count):
            picture = photo(kind, seed=n)
            digest = hashlib.sha256(picture).hexdigest()
            handle = f"mayor{n}.{kind}{label}.example"
            post = CollectedPost(
                platform="bluesky",
                post_id=f"at://did:plc:bench{n}/app.bsky.feed.post/3k{kind}{label}{n}",
                url=f"https://bsky.app/profile/{handle}/post/3k{kind}{label}{n}",
                author=Author(handle=handle, display_name=f"Mayor {n}"),
                text=f"Road closure on Main St this weekend, notice {n}. https://example.gov/n/{n}",
                created_at=dt.datetime(2026, 1, 15, 17, 0, tzinfo=dt.UTC),
                links=[f"https://example.gov/n/{n}"],
                media=[
                    MediaRef(
                        url=f"https://cdn.example/{n}.{kind}",
                        role="image",
                        mime_type=f"image/{kind}",
                        alt_text="detour map",
                        sha256=digest,
                        size=len(picture),
                    )
                ],
                replies=[
                    Reply(
                        id=f"r{n}-{i}",
                        author=Author(handle=f"resident{i}.example", display_name=f"Resident {i}"),
                        text=f"Question {i} about the closure: will the buses be rerouted?",
                        created_at=dt.datetime(2026, 1, 15, 17, 5 + i, tzinfo=dt.UTC),
                    )
                    for i in range(5)
                ],
                source={"getPostThread": {"uri": f"at://bench/{n}", "text": "..."}},
            )
            account = SocialAccount(
                owner_id=user.id, platform="bluesky", handle=handle, profile_url=post.url
            )
            session.add(account)
            session.flush()
            flagged = FlaggedPost(
                account_id=account.id,
                flagged_by_id=user.id,
                url=post.url,
                platform="bluesky",
                external_id=post.post_id,
            )
            session.add(flagged)
            session.flush()
            source = canonical(post.source)
            version = CapturedVersion(
                post_id=flagged.id,
                number=1,
                content_hash=hashlib.sha256(canonical(post.model_dump(mode="json"))).hexdigest(),
                source_sha256=hashlib.sha256(source).hexdigest(),
                source_json=source.decode(),
                normalized=post.model_dump(mode="json"),
                text=post.text,
                collector="bluesky",
                collector_version="bench",
            )
            session.add(version)
            session.flush()
            put_object(session, store, picture, mime_type=f"image/{kind}", kind="media")
            session.add(
                VersionMedia(
                    version_id=version.id,
                    position=0,
                    sha256=digest,
                    role="image",
                    source_url=post.media[0].url,
                    alt_text="detour map",
                )
            )
            session.flush()
            ids.append(version.id)
    return ids


def bare_render(database: Database, store: LocalStore, version_id: int) -> float:
    """Seconds WeasyPrint alone takes for the final HTML of a version (same options)."""
    with database.session() as session:
        view = service.build_view(session, store=store, version_id=version_id)
    prepared = prepare(view)
    fetcher = ArchiveFetcher(
        {**prepared.resources, **{a.key: (a.data, a.mime_type) for a in prepared.attachments}}
    )
    started = time.perf_counter()
    SnapshotHTML(string=prepared.html, url_fetcher=fetcher).write_pdf(
        finisher=finisher(view), **pdf_options(prepared, fetcher)
    )
    return time.perf_counter() - started


def chromium_html(database: Database, store: LocalStore, version_id: int) -> str:
    """The same final HTML WeasyPrint renders, self-contained for a browser: the stylesheet
    inlined and every archive: resource made a data: URI (done before timing)."""
    with database.session() as session:
        view = service.build_view(session, store=store, version_id=version_id)
    prepared = prepare(view)
    html = prepared.html
    for key, (data, mime_type) in prepared.resources.items():
        html = html.replace(
            f'"{key}"', f'"data:{mime_type};base64,{base64.b64encode(data).decode()}"'
        )
    css = (TEMPLATES_DIR / "snapshot.css").read_text(encoding="utf-8")
    return html.replace("</head>", f"<style>{css}</style></head>", 1)


@contextmanager
def chromium_page(executable: str) -> Iterator[Any]:
    """One headless Chromium, kept open for the whole run, and one page in it."""
    from playwright.sync_api import sync_playwright

    from app.platforms.web.browser import CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def chromium_render(page: Any, html: str) -> float:
    """Seconds Chromium takes to lay out and print the HTML (A4, the stylesheet's margins)."""
    started = time.perf_counter()
    page.set_content(html, wait_until="load")
    pdf = page.pdf(format="A4", prefer_css_page_size=True, print_background=True)
    elapsed = time.perf_counter() - started
    assert pdf.startswith(b"%PDF")
    return elapsed


def naive_render(database: Database, store: LocalStore, version_id: int) -> float:
    """Seconds WeasyPrint takes when handed the original photo instead of a JPEG rendition."""
    with database.session() as session:
        view = service.build_view(session, store=store, version_id=version_id)
    prepared = prepare(view)
    originals = {m.sha256: (m.data, m.mime_type) for m in view.media}
    resources = {
        key: originals.get(key.rsplit("/", 1)[-1].removesuffix(".jpg"), value)
        for key, value in prepared.resources.items()
    }
    fetcher = ArchiveFetcher(
        {**resources, **{a.key: (a.data, a.mime_type) for a in prepared.attachments}}
    )
    started = time.perf_counter()
    SnapshotHTML(string=prepared.html, url_fetcher=fetcher).write_pdf(
        finisher=finisher(view), **pdf_options(prepared, fetcher)
    )
    return time.perf_counter() - started


def whole_path(database: Database, store: LocalStore, version_id: int) -> float:
    started = time.perf_counter()
    with database.session() as session:
        service.snapshot_version(
            session, store=store, version_id=version_id, renderer=render_snapshot
        )
    return time.perf_counter() - started


def stages(database: Database, store: LocalStore, kind: str, count: int = 4) -> str:
    """Milliseconds of each step of the whole path besides WeasyPrint, on fresh versions."""
    ids = archive_versions(database, store, kind, count, label="stages")
    totals = {"read view": 0.0, "page + rendition": 0.0, "render": 0.0, "hash+store+record": 0.0}
    for version_id in ids:
        started = time.perf_counter()
        with database.session() as session:
            view = service.build_view(session, store=store, version_id=version_id)
            totals["read view"] += time.perf_counter() - started
            started = time.perf_counter()
            prepare(view)
            totals["page + rendition"] += time.perf_counter() - started
            started = time.perf_counter()
            pdf = render_snapshot(view)  # prepares the page again: subtracted below
            totals["render"] += time.perf_counter() - started
            started = time.perf_counter()
            service.record_snapshot(session, store=store, view=view, version_id=version_id, pdf=pdf)
        totals["hash+store+record"] += time.perf_counter() - started
    totals["render"] -= totals["page + rendition"]
    return ", ".join(f"{name} {1000 * value / count:.1f} ms" for name, value in totals.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.render", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10, help="snapshots per variant")
    parser.add_argument("--variants", default="jpeg,png")
    parser.add_argument("--workers", type=int, default=0, help="also run through a pool")
    parser.add_argument(
        "--chromium", default="/usr/bin/chromium", help='Chromium to compare with ("" for none)'
    )
    args = parser.parse_args(argv)
    print(describe({"chromium": args.chromium or "not measured"}))
    with tempfile.TemporaryDirectory(prefix="postvault-bench-") as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        upgrade_to_head(url)
        database = Database(url)
        store = LocalStore(Path(tmp) / "archive")
        print(f"{args.count} snapshots per variant; photo 1600x1200, five replies, one core")
        with chromium_page(args.chromium) if args.chromium else _no_browser() as page:
            for kind in args.variants.split(","):
                run_variant(database, store, kind, args, page)
        database.dispose()
    return 0


@contextmanager
def _no_browser() -> Iterator[None]:
    yield None


def run_variant(
    database: Database, store: LocalStore, kind: str, args: argparse.Namespace, page: Any
) -> None:
    ids = archive_versions(database, store, kind, args.count + 1)
    warm, measured = ids[0], ids[1:]
    bare_render(database, store, warm)  # fonts and stylesheet loaded once
    whole_path(database, store, warm)
    if page is not None:
        chromium_render(page, chromium_html(database, store, warm))
    runs: dict[str, list[float]] = {"bare": [], "whole": [], "chromium": []}
    for index, version_id in enumerate(measured):
        html = chromium_html(database, store, version_id) if page is not None else ""
        steps: dict[str, Callable[[], float]] = {
            "bare": functools.partial(bare_render, database, store, version_id),
            "whole": functools.partial(whole_path, database, store, version_id),
            "chromium": functools.partial(chromium_render, page, html),
        }
        names = [n for n in steps if n != "chromium" or page is not None]
        # Rotate which goes first, so none gains from what another warmed.
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            runs[name].append(steps[name]())
    bare, whole = sum(runs["bare"]), sum(runs["whole"])
    ratios = [b / w for b, w in zip(runs["bare"], runs["whole"], strict=True)]
    bare_rate, whole_rate = len(measured) / bare, len(measured) / whole
    print(
        f"{kind:>4}: whole path {whole_rate:5.2f} snapshots/s per core "
        f"(median {1000 * statistics.median(runs['whole']):.0f} ms); "
        f"bare WeasyPrint {bare_rate:5.2f}/s "
        f"(median {1000 * statistics.median(runs['bare']):.0f} ms); "
        f"ratio {whole_rate / bare_rate:4.0%} "
        f"(median of pairs {statistics.median(ratios):4.0%}; target >= 90%)"
    )
    if runs["chromium"]:
        chromium = sum(runs["chromium"])
        chromium_rate = len(measured) / chromium
        print(
            f"{kind:>4}: Chromium print-to-PDF {chromium_rate:5.2f}/s "
            f"(median {1000 * statistics.median(runs['chromium']):.0f} ms); "
            f"whole path takes {chromium_rate / whole_rate:.2f}x Chromium's time "
            f"(target <= 1.5x), bare WeasyPrint {chromium_rate / bare_rate:.2f}x"
        )
    print(f"{kind:>4}: where the extra time goes, per snapshot: {stages(database, store, kind)}")
    if kind == "png":
        # Measured already-rendered versions: only WeasyPrint's time counts here.
        naive = sum(naive_render(database, store, i) for i in measured[:3]) / 3
        print(f"{kind:>4}: WeasyPrint handed the PNG itself: {1 / naive:5.2f}/s")
    if args.workers:
        pool_ids = archive_versions(database, store, kind, args.count, label="pool")
        pool = render_pool(args.workers)
        with database.session() as session:  # start the workers before timing
            warm_views = [
                service.build_view(session, store=store, version_id=i)
                for i in pool_ids[: pool.workers]
            ]
        pool.render_many(warm_views)
        started = time.perf_counter()
        with database.session() as session:
            report = service.rerender_versions(
                session, store=store, version_ids=pool_ids, render_many=pool.render_many
            )
        elapsed = time.perf_counter() - started
        print(
            f"{kind:>4}: pool of {pool.workers}: {report.rendered / elapsed:5.2f} "
            f"snapshots/s in all"
        )


if __name__ == "__main__":
    raise SystemExit(main())
