"""A BagIt bag (RFC 8493) written as one ZIP, in memory, with the same bytes for the same
content (fixed member times, sorted names), and checked back before anyone relies on it.

Written here rather than with the `bagit` library, which bags a folder in place on disk and
stamps the day into bag-info.txt: a transfer package is content-addressed in the archive store,
so building it again after a crash must give the same object. The tests validate every package
with the `bagit` library itself.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Mapping

_STAMP = (2000, 1, 1, 0, 0, 0)


class BagError(Exception):
    """A bag does not check out: a file is missing, extra, or does not match its hash."""


def _manifest(files: Mapping[str, bytes]) -> bytes:
    return "".join(
        f"{hashlib.sha256(data).hexdigest()}  {path}\n" for path, data in sorted(files.items())
    ).encode("utf-8")


def _check_path(path: str) -> None:
    if not path.startswith("data/") or ".." in path.split("/") or "\n" in path or "\r" in path:
        raise BagError(f"'{path}' is not a payload path under data/")


def build_bag_zip(root: str, payload: Mapping[str, bytes], info: Mapping[str, str]) -> bytes:
    """The ZIP of one bag named `root`: payload paths start with data/; `info` becomes
    bag-info.txt (Payload-Oxum is added)."""
    for path in payload:
        _check_path(path)
    octets = sum(len(d) for d in payload.values())
    lines = [f"{key}: {' '.join(value.split())}" for key, value in info.items()]
    lines.append(f"Payload-Oxum: {octets}.{len(payload)}")
    tags: dict[str, bytes] = {
        "bagit.txt": b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n",
        "bag-info.txt": ("\n".join(lines) + "\n").encode("utf-8"),
        "manifest-sha256.txt": _manifest(payload),
    }
    tags["tagmanifest-sha256.txt"] = _manifest(tags)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in sorted({**tags, **payload}.items()):
            member = zipfile.ZipInfo(f"{root}/{name}", date_time=_STAMP)
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            archive.writestr(member, data)
    return out.getvalue()


def _parse_manifest(text: str, where: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        digest, sep, path = line.partition("  ")
        if not sep or len(digest) != 64:
            raise BagError(f"{where} line {number} is not '<sha256>  <path>'")
        entries[path] = digest
    return entries


def check_bag_zip(data: bytes) -> dict[str, str]:
    """Re-read a bag ZIP and check every manifest entry against the bytes: returns the payload
    manifest {path: sha256}; raises BagError on any missing, extra or changed file."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise BagError(f"not a ZIP: {exc}") from None
    with archive:
        names = archive.namelist()
        roots = {n.split("/", 1)[0] for n in names}
        if len(roots) != 1:
            raise BagError(f"a bag ZIP holds one folder, not {len(roots)}")
        root = roots.pop()
        files = {n.split("/", 1)[1]: archive.read(n) for n in names if not n.endswith("/")}
    for tag in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt"):
        if tag not in files:
            raise BagError(f"{root}/{tag} is missing")
    payload = _parse_manifest(files["manifest-sha256.txt"].decode("utf-8"), "manifest")
    tags = _parse_manifest(files["tagmanifest-sha256.txt"].decode("utf-8"), "tagmanifest")
    present = {p for p in files if p.startswith("data/")}
    if present != set(payload):
        extra, missing = sorted(present - set(payload)), sorted(set(payload) - present)
        raise BagError(f"payload and manifest differ: extra {extra}, missing {missing}")
    for path, digest in {**payload, **tags}.items():
        if path not in files:
            raise BagError(f"{path} is listed but missing")
        if hashlib.sha256(files[path]).hexdigest() != digest:
            raise BagError(f"{path} does not match its SHA-256 in the manifest")
    return payload
