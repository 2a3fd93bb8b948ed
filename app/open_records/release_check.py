"""The last check of a response package before it is kept: no redacted string may be found in
any of its files (every PDF read as the redaction leak check reads it, every JSON, CSV and text
file decoded), and no withheld or blacked-out original may be inside any of them.

Each file is checked on its own (`file_findings`), so a package's files can be checked one at
a time as they are read, and its PDFs in the render pool's processes (`check_file`), in
parallel; `payload_leaks` checks a whole payload at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from app.open_records import pdf_text
from app.open_records.pdf_text import Haystack, normalise

# What a package's leak check looks for: {redacted string: its normalised form}, and the
# SHA-256 of every withheld or blacked-out original.
Needles = Mapping[str, str]


@dataclass(frozen=True)
class Findings:
    """What one file still holds."""

    original: bool = False  # the file is itself a withheld or blacked-out original
    carried: bool = False  # a PDF stream of it is one
    leaked: frozenset[str] = frozenset()  # the redacted strings found anywhere in it
    # Of those, the ones found in a PDF's pages (drawn text, annotations): a PDF made of its
    # pages holds them too.
    on_pages: frozenset[str] = frozenset()


NOTHING = Findings()


def needles_of(secrets: Sequence[str]) -> dict[str, str]:
    return {secret: normalise(secret) for secret in secrets if normalise(secret)}


def _pdf_findings(data: bytes, needles: Needles, originals: Set[str]) -> Findings:
    found: set[str] = set()
    on_pages: set[str] = set()
    if needles:
        for part in (*pdf_text.page_texts(data), *pdf_text.document_parts(data)):
            haystack = Haystack(part.text)
            hits = {secret for secret, needle in needles.items() if haystack.holds(needle)}
            found |= hits
            if part.where.startswith("page"):  # "page text", "page 2 annotation", ...
                on_pages |= hits
    encoded = {secret: secret.encode("utf-8") for secret in needles}
    carried = False
    if encoded or originals:
        # One pass over the decoded streams for both the strings and the originals.
        for stream in pdf_text.raw_streams(data):
            found |= {secret for secret, raw in encoded.items() if raw in stream}
            if originals and not carried:
                carried = hashlib.sha256(stream).hexdigest() in originals
    return Findings(carried=carried, leaked=frozenset(found), on_pages=frozenset(on_pages))


def file_findings(path: str, data: bytes, needles: Needles, originals: Set[str]) -> Findings:
    """What redacted text and withheld originals one file of the payload still holds."""
    if not needles and not originals:
        return NOTHING  # nothing was taken out: there is nothing to find
    if hashlib.sha256(data).hexdigest() in originals:
        return Findings(original=True)
    if data.startswith(b"%PDF"):
        return _pdf_findings(data, needles, originals)
    if path.endswith((".json", ".jsonl", ".csv", ".txt")):
        haystack = Haystack(pdf_text.decoded_text(data), data.decode("utf-8", "ignore"))
        leaked = {secret for secret, needle in needles.items() if haystack.holds(needle)}
    else:
        leaked = {secret for secret in needles if secret.encode("utf-8") in data}
    return Findings(leaked=frozenset(leaked))


CheckJob = tuple[str, bytes, dict[str, str], frozenset[str]]


def check_file(job: CheckJob) -> Findings:
    """`file_findings` of (path, bytes, needles, originals): what a render worker runs."""
    path, data, needles, originals = job
    return file_findings(path, data, needles, originals)


def problems_of(path: str, findings: Findings) -> list[str]:
    """The sentences naming what the file still holds (none when it holds nothing)."""
    if findings.original:
        return [f"{path} is a withheld or blacked-out original"]
    problems: list[str] = []
    if findings.carried:
        problems.append(f"{path} carries a withheld or blacked-out original")
    if findings.leaked:
        problems.append(f"{path} still holds {len(findings.leaked)} redacted string(s)")
    return problems


def payload_leaks(
    payload: Mapping[str, bytes], secrets: Sequence[str], originals: set[str]
) -> list[str]:
    """Sentences naming each file that still holds redacted text or a withheld original."""
    needles = needles_of(secrets)
    problems: list[str] = []
    for path, data in sorted(payload.items()):
        problems.extend(problems_of(path, file_findings(path, data, needles, originals)))
    return problems
