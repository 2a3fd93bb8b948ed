"""The certificate of destruction for a disposition batch (WeasyPrint, no database).

The PDF lists exactly the posts destroyed, from their stubs. Its bytes depend only on what it
says (dates come from the batch, not the clock), so rendering it again after a crash stores
the same object instead of leaving a second one behind.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from html import escape
from typing import Any

import weasyprint

_CSS = """
@page { size: Letter; margin: 18mm 16mm; @bottom-right { content: "page " counter(page)
  " of " counter(pages); font-size: 8pt; } }
body { font-family: "DejaVu Sans", sans-serif; font-size: 9pt; color: #000; }
h1 { font-size: 15pt; margin: 0 0 4mm 0; }
table { border-collapse: collapse; width: 100%; margin-top: 3mm; }
th, td { border: 0.4pt solid #444; padding: 1.2mm; text-align: left; vertical-align: top; }
th { background: #eee; }
dl { display: grid; grid-template-columns: 38mm auto; margin: 0; }
dt { font-weight: bold; } dd { margin: 0 0 1mm 0; }
.hash { font-family: "DejaVu Sans Mono", monospace; font-size: 6.5pt; word-break: break-all; }
"""


@dataclass(frozen=True)
class CertificateData:
    batch_id: int
    proposed_at: dt.datetime
    approved_at: dt.datetime | None
    approver: str
    authority: str
    whs_notice_on: dt.date | None
    whs_reply_ref: str | None
    destroyed_on: dt.date | None
    skipped_count: int
    stubs: list[dict[str, Any]]
    # The files of closed records requests destroyed in the batch (their series' stubs).
    request_stubs: list[dict[str, Any]] = field(default_factory=list)
    # A transfer batch: the package the archives received and their receipt.
    transfer: dict[str, str] | None = None


def _row(stub: dict[str, Any]) -> str:
    versions = stub.get("versions") or []
    # The URL names the account and the content: the certificate proves it by its hash.
    url_hash = escape(str(stub.get("url_sha256") or ""))
    hashes = "<br>".join(
        [f"URL {url_hash}"]
        + [
            f"v{escape(str(v.get('number')))} {escape(str(v.get('content_hash')))}"
            for v in versions
        ]
    )
    return (
        "<tr>"
        f"<td>{escape(str(stub.get('post_id')))}</td>"
        f"<td>{escape(str(stub.get('platform')))}<br>{escape(str(stub.get('external_id')))}</td>"
        f"<td>{escape(str(stub.get('series_code')))}<br>{escape(str(stub.get('retention')))}</td>"
        f"<td>created {escape(str(stub.get('created_on')))}<br>"
        f"due {escape(str(stub.get('due_on')))}<br>"
        f"destroyed {escape(str(stub.get('destroyed_at', ''))[:10])}</td>"
        f'<td class="hash">{hashes}</td>'
        "</tr>"
    )


def _request_row(stub: dict[str, Any]) -> str:
    files = "<br>".join(
        f"{escape(str(what))}: {escape(str(key))}"
        for key, what in (stub.get("files") or {}).items()
        if key in (stub.get("destroyed_objects") or [])
    )
    return (
        "<tr>"
        f"<td>{escape(str(stub.get('request_number')))}</td>"
        f"<td>{escape(str(stub.get('series_code')))}</td>"
        f"<td>closed {escape(str(stub.get('closed_at') or '')[:10])}<br>"
        f"due {escape(str(stub.get('due_on')))}<br>"
        f"destroyed {escape(str(stub.get('destroyed_at', ''))[:10])}</td>"
        f'<td class="hash">{files}</td>'
        "</tr>"
    )


def _transfer_block(transfer: dict[str, str] | None) -> str:
    if transfer is None:
        return ""
    return (
        "<dt>Transferred to</dt><dd>the state archives, as one BagIt package</dd>"
        f'<dt>Package SHA-256</dt><dd class="hash">{escape(transfer["package_sha256"])}</dd>'
        f"<dt>Package size</dt><dd>{escape(transfer['package_size'])} bytes</dd>"
        f"<dt>Archives' receipt</dt><dd>{escape(transfer['receipt_reference'])}, received "
        f"{escape(transfer['received_on'])} by {escape(transfer['received_by'])}; recorded by "
        f"{escape(transfer['recorded_by'])}</dd>"
    )


def render_certificate(data: CertificateData) -> bytes:
    stubs = sorted(data.stubs, key=lambda s: int(s["post_id"]))
    created = (data.approved_at or data.proposed_at).astimezone(dt.UTC).isoformat()
    rows = "".join(_row(s) for s in stubs) or (
        '<tr><td colspan="5">No post was destroyed in this batch.</td></tr>'
    )
    title = (
        "Certificate of transfer and disposal of local copies"
        if data.transfer is not None
        else "Certificate of destruction"
    )
    intro = (
        "The records below were transferred to the state archives, which confirmed receipt of "
        "the package named above; the package's local copy was destroyed with them."
        if data.transfer is not None
        else ""
    )
    requests = (
        "<h2>Files of records requests destroyed</h2><p>Response packages and redacted copies "
        "made for these closed requests, at the end of their own series.</p>"
        "<table><thead><tr><th>Request</th><th>Series</th><th>Dates</th>"
        "<th>Files destroyed (SHA-256)</th></tr></thead><tbody>"
        + "".join(_request_row(s) for s in data.request_stubs)
        + "</tbody></table>"
        if data.request_stubs
        else ""
    )
    whs = (
        f"notice sent {data.whs_notice_on}; reply or waiver: {escape(data.whs_reply_ref or '')}"
        if data.whs_notice_on
        else "not required for the series in this batch"
    )
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}, disposition batch {data.batch_id}</title>
<meta name="dcterms.created" content="{created}">
<meta name="dcterms.modified" content="{created}">
<meta name="generator" content="PostVault">
<style>{_CSS}</style></head><body>
<h1>{title}</h1>
<dl>
<dt>Disposition batch</dt><dd>{data.batch_id}</dd>
<dt>Proposed</dt><dd>{data.proposed_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC</dd>
<dt>Approved</dt><dd>{
        f"{data.approved_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC" if data.approved_at else ""
    } by {escape(data.approver)}</dd>
<dt>Authority</dt><dd>{escape(data.authority)}</dd>
<dt>Historical Society</dt><dd>{whs}</dd>
{_transfer_block(data.transfer)}
<dt>Destroyed on</dt><dd>{data.destroyed_on or "nothing destroyed"}</dd>
<dt>Posts destroyed</dt><dd>{len(stubs)}</dd>
<dt>Posts skipped</dt><dd>{data.skipped_count} (held or no longer due at run time; listed in
the batch record, not destroyed)</dd>
</dl>
<p>{intro} Every local copy of the posts below was destroyed: PDF snapshots, source JSON,
normalised content, media not shared with a retained post, and search index rows. Only the
stub listed here remains, with the SHA-256 content hash of every version.</p>
<table><thead><tr><th>Post</th><th>Platform and id</th><th>Series</th><th>Dates</th>
<th>URL and version hashes (SHA-256)</th></tr></thead>
<tbody>{rows}</tbody></table>
{requests}
</body></html>"""
    pdf: bytes = weasyprint.HTML(string=html).write_pdf()
    return pdf
