from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.platforms.htmltext import find_hashtags, find_urls, summarise_html


def test_paragraphs_and_line_breaks_are_kept() -> None:
    summary = summarise_html("<p>One<br/>two</p><p>Three &amp; four</p><script>x()</script>")
    assert summary.text == "One\ntwo\n\nThree & four"


def test_links_skip_mentions_and_hashtags() -> None:
    html = (
        '<p><a href="https://a.example/x">a</a> <a class="u-url mention" href="https://m/@u">@u</a>'
        ' <a class="mention hashtag" href="https://m/tags/Tag">#<span>Tag</span></a>'
        ' <a href="mailto:x@y">mail</a></p>'
    )
    summary = summarise_html(html)
    assert summary.links == ["https://a.example/x"]
    assert summary.hashtags == ["Tag"]


def test_plain_text_urls_and_hashtags() -> None:
    text = "See https://city.example/a?b=1. Also #Roads, #roads and https://x.example/#frag #2026"
    assert find_urls(text) == ["https://city.example/a?b=1", "https://x.example/#frag"]
    assert find_hashtags(text) == ["Roads", "2026"]


@given(st.text(max_size=300))
def test_any_markup_gives_text_without_raising(markup: str) -> None:
    summary = summarise_html(markup)
    assert "\n\n\n" not in summary.text
    assert summary.text == summary.text.strip()
