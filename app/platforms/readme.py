"""The README's table of recognised URLs, written from the registry.

    python -m app.platforms.readme          rewrite the table in README.md
    python -m app.platforms.readme --check  exit 1 when README.md's table is out of date

tests/platforms/test_readme.py runs the check, so the table cannot drift from the registry.
"""

from __future__ import annotations

import sys
from pathlib import Path

from app.platforms.registry import registry

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN = "<!-- platforms table: written by `python -m app.platforms.readme` -->"
END = "<!-- end of platforms table -->"


def recognised_urls_table() -> str:
    rows = ["| platform (`id`) | what | example |", "|---|---|---|"]
    for platform in registry:
        for form in platform.url_forms:
            example = form.example.replace("|", "\\|")
            rows.append(f"| {platform.name} (`{platform.id}`) | {form.what} | {example} |")
    return "\n".join(rows)


def with_table(text: str) -> str:
    start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
    return f"{text[:start]}\n{recognised_urls_table()}\n{text[end:]}"


def main(argv: list[str]) -> int:
    current = README.read_text(encoding="utf-8")
    wanted = with_table(current)
    if "--check" in argv:
        if current != wanted:
            sys.stderr.write(
                "README.md's table of recognised URLs is out of date: "
                "python -m app.platforms.readme\n"
            )
            return 1
        return 0
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
