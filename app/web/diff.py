"""Word-level differences between two versions of a post's text, for the comparison view.

The result is a list of plain-text pieces tagged equal / removed / added; the template puts
them in <del> and <ins> and Jinja escapes every piece, so captured text can never become HTML.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Literal

# Words with the whitespace after them, so joining the pieces gives back the exact text.
_TOKENS = re.compile(r"\S+\s*|\s+")

Kind = Literal["equal", "removed", "added"]


@dataclass(frozen=True)
class Piece:
    kind: Kind
    text: str


def word_diff(before: str, after: str) -> list[Piece]:
    old = _TOKENS.findall(before)
    new = _TOKENS.findall(after)
    pieces: list[Piece] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, a1, a2, b1, b2 in matcher.get_opcodes():
        if op == "equal":
            _append(pieces, "equal", "".join(old[a1:a2]))
            continue
        if op in ("delete", "replace"):
            _append(pieces, "removed", "".join(old[a1:a2]))
        if op in ("insert", "replace"):
            _append(pieces, "added", "".join(new[b1:b2]))
    return pieces


def _append(pieces: list[Piece], kind: Kind, text: str) -> None:
    if not text:
        return
    if pieces and pieces[-1].kind == kind:
        pieces[-1] = Piece(kind, pieces[-1].text + text)
    else:
        pieces.append(Piece(kind, text))
