"""The MediaWiki collector against a real MediaWiki 1.39 (Debian's package) on loopback:
revisions are made, files uploaded, pages deleted and revisions hidden through the wiki's own
API, and the collector reads them back the way it reads Wikipedia."""

from __future__ import annotations

import hashlib
import io
import uuid

import httpx
import pytest

from app.collectors.versioning import content_hash
from app.errors import Invalid
from app.platforms.base import UrlParts
from app.platforms.collected import (
    AccountGone,
    CaptureTarget,
    CollectedPost,
    CollectResult,
    Deleted,
    Unchanged,
)
from app.platforms.mediawiki import PLATFORM, urls
from app.platforms.mediawiki.collector import MediaWikiCollector
from tests.platforms.mediawiki.conftest import fetcher_for
from tests.platforms.mediawiki.wiki import Wiki

pytestmark = pytest.mark.mediawiki


def png(seed: int) -> bytes:
    from PIL import Image

    image = Image.new("RGB", (6, 4), ((seed * 53) % 256, 90, (seed * 17) % 256))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def unique(prefix: str) -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def target_for(wiki: Wiki, revision: int, *, user: str = "Alice", **extra: object) -> CaptureTarget:
    values: dict[str, object] = {
        "post_id": 1,
        "platform": PLATFORM.id,
        "external_id": urls.external_id(wiki.netloc, str(revision)),
        "url": f"{wiki.base_url}/index.php?oldid={revision}",
        "account_handle": f"{user}@{wiki.netloc}",
        "account_profile_url": wiki.page_url(f"User:{user}"),
    }
    values.update(extra)
    return CaptureTarget.model_validate(values)


def collect(wiki: Wiki, client: httpx.Client, target: CaptureTarget) -> CollectResult:
    return MediaWikiCollector(fetcher_for(wiki.netloc)).collect(target, client)


def captured(result: CollectResult) -> CollectedPost:
    assert isinstance(result, CollectedPost), result
    return result


def test_first_capture_has_wikitext_html_diff_metadata_and_the_file(
    wiki: Wiki, wiki_client: httpx.Client
) -> None:
    alice = wiki.user("Alice")
    title = unique("Budget hearing")
    file_name = f"Chart-{uuid.uuid4().hex[:8]}.png"
    image = png(3)
    alice.upload(file_name, image, "chart for the hearing")
    first = alice.edit(title, "The hearing is on '''Monday'''.", "announce")
    text = (
        f"The hearing is on '''Tuesday'''. See [https://city.example/budget the budget].\n\n"
        f"[[File:{file_name}]]\n[[Category:Hearings]]"
    )
    second = alice.edit(title, text, "moved to Tuesday")

    post = captured(collect(wiki, wiki_client, target_for(wiki, second)))

    assert post.platform == "mediawiki"
    assert post.post_id == str(second)
    assert post.title == title
    assert post.text == text  # the wikitext itself
    assert post.html is not None
    assert "<b>Tuesday</b>" in post.html
    assert "<img" in post.html
    assert "NewPP limit report" not in post.html
    assert post.author.display_name == "Alice"
    assert post.author.handle == f"Alice@{wiki.netloc}"
    assert post.author.platform_id is not None
    assert post.created_at is not None
    assert post.platform_version_id == str(second)
    assert post.links == ["https://city.example/budget"]
    extra = post.extra
    assert extra["comment"] == "moved to Tuesday"
    assert extra["parent_id"] == first
    assert extra["size"] == len(text.encode())
    assert extra["sha1"] == hashlib.sha1(text.encode()).hexdigest()
    assert extra["categories"] == ["Hearings"]
    assert "Monday" in extra["diff"]
    assert "Tuesday" in extra["diff"]
    assert extra["api_url"] == wiki.api_url  # found from the user page's EditURI link
    assert post.validators == {"api_url": wiki.api_url}
    # The file, as it was when the revision was saved: its URL on the wiki and its sha1.
    assert [m.role for m in post.media] == ["image"]
    assert post.media[0].url.endswith(file_name)
    assert extra["files"][0]["sha1"] == hashlib.sha1(image).hexdigest()
    fetched = wiki_client.get(post.media[0].url)
    assert fetched.content == image
    # discovery (user page), revision, parse, compare, imageinfo
    assert post.http_requests == 5
    assert set(post.source) == {"discovery", "revision", "parse", "compare", "imageinfo"}


def test_a_page_s_first_revision_has_no_parent_to_compare(
    wiki: Wiki, wiki_client: httpx.Client
) -> None:
    revision = wiki.user("Alice").edit(unique("New page"), "Created.", "create")
    post = captured(collect(wiki, wiki_client, target_for(wiki, revision)))
    assert post.extra["parent_id"] == 0
    assert "diff" not in post.extra
    assert "first revision" in post.extra["diff_note"]
    assert post.media == []
    assert post.http_requests == 3


def test_later_polls_only_check_the_revision_is_still_there(
    wiki: Wiki, wiki_client: httpx.Client
) -> None:
    revision = wiki.user("Alice").edit(unique("Stable"), "Unchanging text.", "s")
    first = captured(collect(wiki, wiki_client, target_for(wiki, revision)))
    again = collect(
        wiki,
        wiki_client,
        target_for(
            wiki,
            revision,
            previous_platform_version_id=first.platform_version_id,
            validators=first.validators,
        ),
    )
    assert isinstance(again, Unchanged)
    assert again.http_requests == 1  # the API is known: one revisions query


def test_page_deletion_is_a_removal(wiki: Wiki, wiki_client: httpx.Client) -> None:
    title = unique("Withdrawn notice")
    revision = wiki.user("Alice").edit(title, "Notice text.", "notice")
    first = captured(collect(wiki, wiki_client, target_for(wiki, revision)))
    wiki.user("Admin").delete_page(title)

    result = collect(
        wiki,
        wiki_client,
        target_for(wiki, revision, previous_platform_version_id=first.platform_version_id),
    )
    assert isinstance(result, Deleted), result
    assert "page deletion" in result.reason
    assert "badrevids" in result.reason
    assert result.source["revision"]["query"]["badrevids"][str(revision)]["missing"] is True


@pytest.mark.parametrize(
    ("hide", "suppress", "expected"),
    [
        ("content", False, ["texthidden"]),
        ("user", False, ["userhidden"]),
        ("comment", False, ["commenthidden"]),
        ("content|user|comment", True, ["texthidden", "userhidden", "commenthidden", "suppressed"]),
    ],
)
def test_revision_deletion_is_a_removal_saying_what_is_hidden(
    wiki: Wiki, wiki_client: httpx.Client, hide: str, suppress: bool, expected: list[str]
) -> None:
    title = unique("Hidden")
    revision = wiki.user("Alice").edit(title, "Something to hide.", "to hide")
    wiki.user("Alice").edit(title, "A later revision keeps the page.", "later")
    first = captured(collect(wiki, wiki_client, target_for(wiki, revision)))
    wiki.user("Admin").hide_revision(revision, hide=hide, suppress=suppress)

    result = collect(
        wiki,
        wiki_client,
        target_for(wiki, revision, previous_platform_version_id=first.platform_version_id),
    )
    assert isinstance(result, Deleted), result
    assert "revision deletion" in result.reason
    assert result.reason.endswith(f"({', '.join(expected)})")


def test_a_revision_hidden_before_the_first_capture_is_a_removal_too(
    wiki: Wiki, wiki_client: httpx.Client
) -> None:
    title = unique("Hidden early")
    revision = wiki.user("Alice").edit(title, "Gone before capture.", "x")
    wiki.user("Alice").edit(title, "Next.", "y")
    wiki.user("Admin").hide_revision(revision, hide="content")
    result = collect(wiki, wiki_client, target_for(wiki, revision))
    assert isinstance(result, Deleted)
    assert "texthidden" in result.reason


def test_flagging_another_user_s_revision_is_refused_naming_the_user(
    wiki: Wiki, wiki_client: httpx.Client
) -> None:
    title = unique("Shared page")
    mine = wiki.user("Alice").edit(title, "Alice wrote this.", "a")
    theirs = wiki.user("Bob").edit(title, "Bob changed it.", "b")
    fetcher = fetcher_for(wiki.netloc)
    http = fetcher.session(wiki_client)

    class Account:
        id = 1
        handle = f"Alice@{wiki.netloc}"
        profile_url = wiki.page_url("User:Alice")
        platform_account_id = None

    ref = PLATFORM.parse_post_url(
        UrlParts.parse(f"{wiki.base_url}/index.php?title=X&diff={theirs}&oldid={mine}")
    )
    assert ref is not None
    assert ref.post_id == str(theirs)
    with pytest.raises(Invalid, match="was made by Bob, not by your account Alice"):
        PLATFORM.verify_post(ref, Account(), http)

    own = PLATFORM.parse_post_url(UrlParts.parse(f"{wiki.base_url}/wiki/Special:Diff/{mine}"))
    assert own is not None
    PLATFORM.verify_post(own, Account(), http)  # Alice's own revision: accepted

    missing = PLATFORM.parse_post_url(UrlParts.parse(f"{wiki.base_url}/index.php?oldid=99999999"))
    assert missing is not None
    with pytest.raises(Invalid, match="has no revision 99999999"):
        PLATFORM.verify_post(missing, Account(), http)

    # Captured anyway (say, flagged before the check existed): archived, with a warning.
    post = captured(collect(wiki, wiki_client, target_for(wiki, theirs)))
    assert "made by Bob, not by the registered account Alice" in post.extra["warning"]


def test_a_renamed_user_is_an_account_gone(wiki: Wiki, wiki_client: httpx.Client) -> None:
    revision = wiki.user("Carol").edit(unique("Carol's note"), "Carol wrote this.", "c")
    first = captured(collect(wiki, wiki_client, target_for(wiki, revision, user="Carol")))
    wiki.rename_user("Carol", "Caroline")
    result = collect(
        wiki,
        wiki_client,
        target_for(
            wiki, revision, user="Carol", previous_platform_version_id=first.platform_version_id
        ),
    )
    assert isinstance(result, AccountGone), result
    assert "the user Carol no longer exists" in result.reason
    assert result.source["revision"]["query"]["pages"][0]["revisions"][0]["user"] == "Caroline"


def test_two_captures_of_one_revision_hash_the_same(wiki: Wiki, wiki_client: httpx.Client) -> None:
    """Nothing volatile (the parser's limit report, request ids, timings, where the API was
    found) reaches the hashed content: a revision captured twice is one version."""
    title = unique("Twice")
    wiki.user("Alice").edit(title, "Before.", "a")
    revision = wiki.user("Alice").edit(title, "After, with {{CURRENTYEAR}}.", "b")
    collector = MediaWikiCollector(fetcher_for(wiki.netloc))
    first = captured(collector.collect(target_for(wiki, revision), wiki_client))
    second = captured(collector.collect(target_for(wiki, revision), wiki_client))
    assert first.source["discovery"] != second.source["discovery"]  # found, then remembered
    assert content_hash(first) == content_hash(second)
