"""WARC records with warcio, packaged as WACZ 1.1.1 by py-wacz, and checked by its validator.

A capture's exchanges become one gzipped WARC (warcinfo, then a response and its request
record per exchange, the response kept byte for byte as it came over the wire). py-wacz
indexes it (CDXJ), lists the page (pages/pages.jsonl with its title and text) and writes
datapackage.json with a SHA-256 per file and datapackage-digest.json.

py-wacz is a command-line tool that prints as it works; it runs here in a temporary folder
with its output captured, so nothing of it reaches PostVault's logs or stdout.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import gzip
import io
import json
import tempfile
import warnings
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from app.platforms.web.browser import PageCapture
from app.platforms.web.guard import Exchange

WACZ_VERSION = "1.1.1"
SOFTWARE = "PostVault web capture (chromium via Playwright; warcio; py-wacz)"
# Ceiling on what a WACZ may unpack to before it is validated (a zip bomb stops here).
MAX_UNPACKED_FACTOR = 20


class WaczError(ValueError):
    """The file is not a valid WACZ, or it does not hold what it must; the message says why."""


def _warc_date(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_warc(exchanges: Iterable[Exchange], out: IO[bytes], *, info: dict[str, str]) -> None:
    """Write a gzipped WARC 1.1 of `exchanges` to `out`."""
    writer = WARCWriter(out, gzip=True, warc_version="WARC/1.1")
    writer.write_record(writer.create_warcinfo_record("capture.warc.gz", info))
    for exchange in exchanges:
        date = _warc_date(exchange.started_at)
        status_line = f"{exchange.status} {exchange.reason}".strip()
        response = writer.create_warc_record(
            exchange.url,
            "response",
            payload=io.BytesIO(exchange.raw_body),
            length=len(exchange.raw_body),  # known: warcio then needs no spool file
            http_headers=StatusAndHeaders(
                status_line, exchange.response_headers, protocol=exchange.http_version
            ),
            warc_headers_dict={"WARC-Date": date},
        )
        parts = urlsplit(exchange.url)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        request = writer.create_warc_record(
            exchange.url,
            "request",
            payload=io.BytesIO(exchange.request_body or b""),
            length=len(exchange.request_body or b""),
            http_headers=StatusAndHeaders(
                f"{exchange.method} {target} HTTP/1.1",
                [("Host", parts.netloc), *exchange.request_headers],
                is_http_request=True,
            ),
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Concurrent-To": str(response.rec_headers.get_header("WARC-Record-ID")),
            },
        )
        writer.write_record(response)
        writer.write_record(request)


@dataclass(frozen=True)
class WaczPage:
    url: str
    title: str
    text: str
    ts: dt.datetime


def package_wacz(warc: bytes, page: WaczPage, *, description: str = "") -> bytes:
    """A WACZ 1.1.1 holding `warc`, its CDXJ index, the page list and the datapackage."""
    from wacz.main import main as wacz_main

    with tempfile.TemporaryDirectory(prefix="postvault-wacz-") as folder:
        root = Path(folder)
        warc_path = root / "capture.warc.gz"
        warc_path.write_bytes(warc)
        pages = root / "pages.jsonl"
        header = {"format": "json-pages-1.0", "id": "pages", "title": "Pages"}
        entry = {"url": page.url, "title": page.title, "text": page.text}
        pages.write_text(
            json.dumps(header) + "\n" + json.dumps(entry, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        output = root / "capture.wacz"
        args = [
            "create",
            str(warc_path),
            "-o",
            str(output),
            "--pages",
            str(pages),
            "--url",
            page.url,
            "--title",
            page.title or page.url,
            "--hash-type",
            "sha256",
        ]
        if description:
            args += ["--desc", description]
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = wacz_main(args)
        if code != 0 or not output.exists():
            raise WaczError(f"py-wacz could not package the capture: {printed.getvalue()[-500:]}")
        return output.read_bytes()


@dataclass
class WaczCheck:
    """What validating a WACZ found."""

    version: str | None = None
    problems: list[str] = field(default_factory=list)
    datapackage: dict[str, Any] = field(default_factory=dict)
    software: str | None = None  # the tool that made it, as the WACZ says

    @property
    def valid(self) -> bool:
        return not self.problems


def validate_wacz(path: Path, *, max_unpacked_bytes: int) -> WaczCheck:
    """Run py-wacz's validation of a WACZ 1.1.1 (required contents, frictionless datapackage,
    listed paths, every file's hash, the datapackage digest). Never raises for a bad file."""
    from wacz.validate import Validation

    check = WaczCheck()
    try:
        with zipfile.ZipFile(path) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            if unpacked > max_unpacked_bytes:
                check.problems.append(
                    f"it would unpack to {unpacked} bytes, more than the limit of "
                    f"{max_unpacked_bytes}"
                )
                return check
            names = set(archive.namelist())
            if "datapackage.json" not in names:
                check.problems.append("it has no datapackage.json, so it is not a WACZ")
                return check
            check.datapackage = json.loads(archive.read("datapackage.json"))
    except (zipfile.BadZipFile, OSError, EOFError):
        check.problems.append("it is not a ZIP file, so it is not a WACZ")
        return check
    except (ValueError, UnicodeDecodeError):
        check.problems.append("its datapackage.json is not valid JSON")
        return check
    if not isinstance(check.datapackage, dict):
        check.problems.append("its datapackage.json is not a JSON object")
        return check
    check.version = str(check.datapackage.get("wacz_version") or "") or None
    software = check.datapackage.get("software")
    check.software = str(software) if software else None
    if check.version != WACZ_VERSION:
        check.problems.append(
            f"it says WACZ version {check.version or '(none)'}; version {WACZ_VERSION} is needed"
        )
        return check
    printed = io.StringIO()
    # py-wacz's validator opens files without closing them; they are collected here, with
    # their ResourceWarnings, rather than at some later moment in unrelated code.
    with contextlib.redirect_stdout(printed), warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        _run_validation(Validation(str(path)), check, printed)
        gc.collect()
    return check


def _run_validation(validation: Any, check: WaczCheck, printed: io.StringIO) -> None:
    """py-wacz's own checks, in its order, stopping at the first that fails.
    check_required_contents answers 0/1; the others True/False."""
    steps = [
        ("required files are missing", lambda: validation.check_required_contents() == 0),
        (
            "its datapackage.json is not a valid data package",
            validation.frictionless_validate,
        ),
        ("it holds files its datapackage.json does not list", validation.check_file_paths),
        ("a file does not match its hash in datapackage.json", validation.check_file_hashes),
        (
            "datapackage-digest.json does not match datapackage.json",
            validation.check_data_package_hash_and_sig,
        ),
    ]
    try:
        for problem, step in steps:
            try:
                passed = step()
            except Exception as exc:  # the validator trips on malformed parts
                check.problems.append(f"{problem} ({type(exc).__name__})")
                return
            if passed is not True:
                said = printed.getvalue()
                if "hash-count" in said:
                    problem = "a file does not match its hash in datapackage.json"
                elif "byte-count" in said:
                    problem = "a file does not have the size datapackage.json gives"
                check.problems.append(problem)
                return
    finally:
        validation.dir.cleanup()


def index_urls(path: Path) -> set[str]:
    """Every URL the WACZ's CDX(J) indexes and page lists name."""
    urls: set[str] = set()
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.startswith("indexes/") and name.endswith((".cdx", ".cdxj", ".cdx.gz")):
                data = archive.read(name)
                if name.endswith(".gz"):
                    data = _gunzip_members(data)
                for line in data.decode("utf-8", "replace").splitlines():
                    urls.update(_cdx_url(line))
            elif name.startswith("pages/") and name.endswith(".jsonl"):
                for line in archive.read(name).decode("utf-8", "replace").splitlines():
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(entry, dict) and isinstance(entry.get("url"), str):
                        urls.add(entry["url"])
    return urls


def _gunzip_members(data: bytes) -> bytes:
    """CDX.gz indexes are many gzip members back to back (one per block)."""
    return gzip.decompress(data)


def _cdx_url(line: str) -> Iterator[str]:
    # CDXJ: "urlkey timestamp {json}" with the original URL in the JSON.
    brace = line.find("{")
    if brace < 0:
        return
    try:
        fields = json.loads(line[brace:])
    except ValueError:
        return
    if isinstance(fields, dict) and isinstance(fields.get("url"), str):
        yield fields["url"]


def same_url(a: str, b: str) -> bool:
    """The same page, ignoring the fragment, a trailing slash and http/https."""

    def key(url: str) -> str:
        parts = urlsplit(url.strip())
        path = parts.path.rstrip("/") or "/"
        query = f"?{parts.query}" if parts.query else ""
        return f"{parts.netloc.lower()}{path}{query}"

    return key(a) == key(b)


def records(wacz: Path) -> Iterator[tuple[str, str, bytes, int | None]]:
    """(record type, target URI, decoded payload, HTTP status) of every WARC record inside."""
    with zipfile.ZipFile(wacz) as archive:
        for name in archive.namelist():
            if not name.startswith("archive/"):
                continue
            with archive.open(name) as stream:
                for record in ArchiveIterator(stream):
                    uri = record.rec_headers.get_header("WARC-Target-URI") or ""
                    status = None
                    if record.http_headers is not None and record.rec_type == "response":
                        code = record.http_headers.get_statuscode()
                        status = int(code) if code and code.isdigit() else None
                    yield record.rec_type, uri, record.content_stream().read(), status


def capture_wacz(page: PageCapture, text: str) -> bytes | None:
    """The WACZ of a browser capture, or None when the capture fetched nothing."""
    if not page.log.exchanges:
        return None
    buffer = io.BytesIO()
    write_warc(
        page.log.exchanges,
        buffer,
        info={
            "software": SOFTWARE,
            "format": "WARC File Format 1.1",
            "isPartOf": "PostVault",
            "description": f"Browser capture of {page.requested_url}",
        },
    )
    return package_wacz(
        buffer.getvalue(),
        WaczPage(url=page.final_url, title=page.title, text=text, ts=page.started_at),
        description=f"PostVault browser capture of {page.requested_url}",
    )
