from __future__ import annotations

from app.platforms import readme
from app.platforms.registry import registry


def test_the_readme_table_is_the_registry() -> None:
    text = readme.README.read_text(encoding="utf-8")
    assert readme.with_table(text) == text, "run: python -m app.platforms.readme"
    for platform in registry:
        assert f"| {platform.name} (`{platform.id}`) |" in text


def test_the_check_fails_on_a_stale_table() -> None:
    text = readme.README.read_text(encoding="utf-8")
    stale = text.replace(readme.recognised_urls_table(), "| nothing |")
    assert readme.with_table(stale) == text
    assert readme.main(["--check"]) == 0
