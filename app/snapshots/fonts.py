"""Which characters the installed fonts can draw, asked of fontconfig (what Pango draws with).

A snapshot is evidence: a character drawn as an empty box must not pass unnoticed. At start-up
`postvault serve` reports which of the scripts PostVault promises (docs/snapshots.md) have no
font; at render time `missing_characters` finds every character of the page that no installed
font covers, before rendering, so the capture record and the XMP metadata can list them.

Coverage is the union of every installed font's character set as fontconfig reports it
(`fc-list --format %{charset}`): Pango falls back through fontconfig to any installed font, so
a character no font covers is exactly one that is drawn as a box. fontconfig honours
`FONTCONFIG_FILE`, so a process pointed at a restricted font folder sees that folder only.
"""

from __future__ import annotations

import bisect
import logging
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser

log = logging.getLogger("postvault.snapshots")

# One or more characters of each script the snapshot CSS names a font for. RPA Hmong is
# written in the Latin script; Pahawh Hmong and Nyiakeng Puachue Hmong have their own blocks.
SCRIPT_SAMPLES: dict[str, str] = {
    "Latin": "Aaé",
    "Arabic": "\u0628\u0627\u0644",
    "Hebrew": "\u05d0\u05d1",
    "CJK": "\u516c\u4ea4\u3042\ud55c",  # Chinese, Japanese kana, Korean hangul
    "emoji": "\U0001f68d\U0001f600",
    "Pahawh Hmong": "\U00016b00\U00016b01",
    "Nyiakeng Puachue Hmong": "\U0001e100\U0001e101",
}

# Characters that are never drawn as glyphs of their own: controls, format characters
# (joiners, direction marks), separators, and variation selectors that only pick a glyph.
_NOT_DRAWN_CATEGORIES = {"Cc", "Cf", "Zs", "Zl", "Zp"}
_VARIATION_SELECTORS = ((0xFE00, 0xFE0F), (0xE0100, 0xE01EF))

_RANGE = re.compile(r"^([0-9a-fA-F]+)(?:-([0-9a-fA-F]+))?$")


def codepoint_label(char: str) -> str:
    """The label of a character: U+1F68D for 🚍."""
    return f"U+{ord(char):04X}"


def _needs_glyph(char: str) -> bool:
    if char.isspace() or unicodedata.category(char) in _NOT_DRAWN_CATEGORIES:
        return False
    point = ord(char)
    return not any(low <= point <= high for low, high in _VARIATION_SELECTORS)


@dataclass(frozen=True)
class Coverage:
    """The characters some installed font covers, as sorted, merged, inclusive ranges."""

    starts: tuple[int, ...] = ()
    ends: tuple[int, ...] = ()
    # Why coverage is unknown (no fontconfig); then nothing is reported missing.
    unknown_reason: str | None = None

    @classmethod
    def from_ranges(cls, ranges: Iterable[tuple[int, int]]) -> Coverage:
        merged: list[list[int]] = []
        for low, high in sorted(ranges):
            if merged and low <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], high)
            else:
                merged.append([low, high])
        return cls(tuple(r[0] for r in merged), tuple(r[1] for r in merged))

    @property
    def known(self) -> bool:
        return self.unknown_reason is None

    def covers(self, char: str) -> bool:
        if not self.known:
            return True
        point = ord(char)
        index = bisect.bisect_right(self.starts, point) - 1
        return index >= 0 and point <= self.ends[index]

    def missing(self, text: str) -> list[str]:
        """Distinct characters of `text` that need a glyph and have none, in order of first
        appearance."""
        # Each distinct character once (dict.fromkeys keeps the order of first appearance).
        return [c for c in dict.fromkeys(text) if _needs_glyph(c) and not self.covers(c)]


def parse_charsets(output: str) -> Coverage:
    """Coverage from `fc-list --format '%{charset}\\n'` output (hex ranges, space separated)."""
    ranges: list[tuple[int, int]] = []
    for token in output.split():
        match = _RANGE.match(token)
        if match is None:
            continue
        low = int(match.group(1), 16)
        high = int(match.group(2), 16) if match.group(2) else low
        ranges.append((low, high))
    return Coverage.from_ranges(ranges)


def load_coverage() -> Coverage:
    """Ask fontconfig now (no cache): what every installed font covers."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return Coverage(unknown_reason="fontconfig's fc-list is not installed")
    try:
        result = subprocess.run(
            [fc_list, "--format", "%{charset}\n"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return Coverage(unknown_reason=f"fc-list failed: {exc}")
    return parse_charsets(result.stdout)


@lru_cache(maxsize=1)
def installed_coverage() -> Coverage:
    """The coverage of this process's fonts, asked once (fonts installed later need a
    restart, as they do for Pango)."""
    return load_coverage()


@dataclass(frozen=True)
class FontReport:
    """Which of the promised scripts the installed fonts cover."""

    covered: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unknown_reason: str | None = None

    @property
    def ok(self) -> bool:
        return not self.missing and self.unknown_reason is None

    def summary(self) -> str:
        """The word ok, or one phrase naming what is missing (for /healthz and logs)."""
        if self.unknown_reason is not None:
            return f"unknown: {self.unknown_reason}"
        if self.missing:
            return "missing: " + ", ".join(self.missing)
        return "ok"


def script_report(coverage: Coverage | None = None) -> FontReport:
    coverage = coverage or installed_coverage()
    if not coverage.known:
        return FontReport(unknown_reason=coverage.unknown_reason)
    covered: list[str] = []
    missing: list[str] = []
    for script, sample in SCRIPT_SAMPLES.items():
        (missing if coverage.missing(sample) else covered).append(script)
    return FontReport(covered=covered, missing=missing)


def check_fonts_at_startup() -> FontReport:
    """Log (once, at start-up) which promised scripts have no installed font."""
    report = script_report()
    if report.unknown_reason is not None:
        log.warning("font coverage cannot be checked: %s", report.unknown_reason)
    elif report.missing:
        log.warning(
            "no installed font covers %s: snapshots will draw those characters as empty boxes "
            "and list them in their capture record (run scripts/install-fonts)",
            ", ".join(report.missing),
        )
    return report


class _DrawnText(HTMLParser):
    """The text of an HTML page's body (what is drawn), without markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._in_body = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "body":
            self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._in_body:
            self.parts.append(data)


def page_text(html: str) -> str:
    parser = _DrawnText()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


def missing_characters(html: str, coverage: Coverage | None = None) -> list[str]:
    """Labels ("U+1F68D") of the characters of the page no installed font can draw."""
    coverage = coverage or installed_coverage()
    return [codepoint_label(char) for char in coverage.missing(page_text(html))]


def missing_sentence(labels: list[str]) -> str:
    """The capture record's sentence: 3 characters could not be drawn: U+1F68D, ..."""
    noun = "character" if len(labels) == 1 else "characters"
    return f"{len(labels)} {noun} could not be drawn: {', '.join(labels)}"
