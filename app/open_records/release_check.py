"""The last check of a response package before it is kept: no redacted string may be found in
any of its files (every PDF read as the redaction leak check reads it, every JSON, CSV and text
file decoded), and no withheld or blacked-out original may be inside any of them."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from app.open_records import pdf_text
from app.open_records.pdf_text import normalise


def _pdf_leaks(data: bytes, needles: Mapping[str, str]) -> set[str]:
    found: set[str] = set()
    for part in (*pdf_text.page_texts(data), *pdf_text.document_parts(data)):
        haystack = normalise(part.text)
        found |= {secret for secret, needle in needles.items() if needle in haystack}
    for stream in pdf_text.raw_streams(data):
        found |= {secret for secret in needles if secret.encode("utf-8") in stream}
    return found


def payload_leaks(
    payload: Mapping[str, bytes], secrets: Sequence[str], originals: set[str]
) -> list[str]:
    """Sentences naming each file that still holds redacted text or a withheld original."""
    needles = {secret: normalise(secret) for secret in secrets if normalise(secret)}
    problems: list[str] = []
    for path, data in sorted(payload.items()):
        if hashlib.sha256(data).hexdigest() in originals:
            problems.append(f"{path} is a withheld or blacked-out original")
            continue
        if data.startswith(b"%PDF"):
            leaked = _pdf_leaks(data, needles) if needles else set()
            carried = {
                sha
                for stream in pdf_text.raw_streams(data)
                if (sha := hashlib.sha256(stream).hexdigest()) in originals
            }
            if carried:
                problems.append(f"{path} carries a withheld or blacked-out original")
        elif path.endswith((".json", ".jsonl", ".csv", ".txt")):
            haystack = normalise(pdf_text.decoded_text(data)) + normalise(
                data.decode("utf-8", "ignore")
            )
            leaked = {secret for secret, needle in needles.items() if needle in haystack}
        else:
            leaked = {secret for secret in needles if secret.encode("utf-8") in data}
        if leaked:
            problems.append(f"{path} still holds {len(leaked)} redacted string(s)")
    return problems
