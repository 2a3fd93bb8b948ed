"""Which font drew each run of text in a PDF, and whether that font has the characters.

A character a font lacks is drawn as its empty box (tofu); comparing each run's text with the
cmap of the installed font that drew it finds such boxes without looking at pixels.
"""

from __future__ import annotations

import functools
import io
import subprocess
from pathlib import Path
from typing import Any

import pypdf
from fontTools.ttLib import TTFont  # type: ignore[import-untyped]


@functools.cache
def font_cmap(base_font: str) -> tuple[str, frozenset[int]]:
    """(family, code points) of the installed font a PDF font name stands for."""
    family = base_font.split("+", 1)[-1].replace("-", " ")
    out = subprocess.run(
        ["fc-match", "-f", "%{family}|%{file}|%{index}", family],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    found_family, path, index = out.split("|")
    with TTFont(path, fontNumber=int(index or 0), lazy=True) as font:
        return found_family.split(",")[0], frozenset(font.getBestCmap())


def text_runs(pdf: bytes) -> list[tuple[str, str]]:
    """(PDF font name, text) of every text-showing operation, in page order."""
    runs: list[tuple[str, str]] = []
    for page in pypdf.PdfReader(io.BytesIO(pdf)).pages:

        def visit(text: str, _cm: Any, _tm: Any, font: Any, _size: Any) -> None:
            if font is not None and text.strip():
                runs.append((str(font.get("/BaseFont")), text))

        page.extract_text(visitor_text=visit)
    return runs


def fonts_for(pdf: bytes, text: str) -> set[str]:
    """Families of the fonts that drew runs containing `text`."""
    return {font_cmap(base)[0] for base, run in text_runs(pdf) if text in run}


def tofu(pdf: bytes) -> list[str]:
    """Characters drawn with a font that does not have them."""
    problems = []
    for base, run in text_runs(pdf):
        family, cmap = font_cmap(base)
        missing = [c for c in run if not c.isspace() and ord(c) not in cmap]
        if missing:
            problems.append(f"{family} lacks {[f'U+{ord(c):04X}' for c in missing]} in {run!r}")
    return problems


# Families a "no CJK, no emoji" machine has: Latin and Arabic body fonts, the mono font.
LATIN_AND_ARABIC = ("Noto Sans", "Noto Sans Arabic", "DejaVu Sans", "DejaVu Sans Mono")


def restricted_fontconfig(folder: Path, families: tuple[str, ...] = LATIN_AND_ARABIC) -> Path:
    """A fontconfig configuration that sees only the installed fonts of `families` (linked
    into `folder`): point FONTCONFIG_FILE at it in a subprocess to play a machine with fewer
    fonts."""
    fonts = folder / "fonts"
    fonts.mkdir(parents=True, exist_ok=True)
    for family in families:
        files = subprocess.run(
            ["fc-list", "--format", "%{file}\n", f":family={family}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert files, f"the font {family} is not installed (scripts/install-fonts)"
        for file in files:
            link = fonts / Path(file).name
            if not link.exists():
                link.symlink_to(file)
    config = folder / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">\n'
        f"<fontconfig><dir>{fonts}</dir><cachedir>{folder / 'cache'}</cachedir></fontconfig>\n",
        encoding="utf-8",
    )
    return config
