"""Full-text search: archived versions in, ranked and filtered hits with snippets out.

Posts and versions are written as rows (with CollectedPost JSON as the collectors store it),
indexed with index_version as the capture pipeline does, then searched through the service
and through GET /api/v1/search.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.accounts.models import SocialAccount
from app.auth.models import User
from app.classification.models import Classification, ClassificationOverride
from app.db import Database
from app.errors import Forbidden, Invalid
from app.open_records.schemas import SearchPage, SearchQuery
from app.platforms.collected import Author, CollectedPost, LinkCard, MediaRef, Reply
from app.posts.models import CapturedVersion, FlaggedPost, VersionKind, VersionMedia
from app.retention.models import HeldPost, Hold
from app.search.query import fts5_expression, parse_query
from app.search.service import index_version, remove_post_from_index, search
from app.storage.models import StoredObject
from tests.conftest import MakePerson, Person

JUNE = dt.datetime(2026, 6, 10, 15, 0, tzinfo=dt.UTC)


@dataclass
class Archive:
    """Writes accounts, posts and versions as rows, and indexes each version."""

    db: Database
    officer: Person
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def account(self, owner: Person, platform: str = "mastodon", handle: str = "") -> int:
        n = next(self._ids)
        with self.db.session() as session:
            account = SocialAccount(
                owner_id=owner.user.id,
                platform=platform,
                handle=handle or f"user{n}@social.city.example",
                profile_url=f"https://social.city.example/@user{n}",
            )
            session.add(account)
            session.flush()
            return account.id

    def post(
        self,
        account_id: int,
        *versions: CollectedPost,
        created_at: dt.datetime | None = JUNE,
        captured_at: dt.datetime = JUNE,
        removed: bool = False,
        media_alt_texts: Sequence[str] = (),
    ) -> tuple[int, list[int]]:
        """A flagged post with one row per given version (numbered from 1); returns
        (post id, version ids)."""
        n = next(self._ids)
        with self.db.session() as session:
            account = session.get(SocialAccount, account_id)
            assert account is not None
            post = FlaggedPost(
                account_id=account_id,
                flagged_by_id=account.owner_id,
                url=f"https://{account.platform}.example/posts/{n}",
                platform=account.platform,
                external_id=f"{account.platform}-{n}",
                status="edited" if len(versions) > 1 else "captured",
                removed_at=captured_at + dt.timedelta(days=1) if removed else None,
            )
            session.add(post)
            session.flush()
            version_ids = []
            for number, collected in enumerate(versions, start=1):
                version = _version_row(post.id, number, collected, created_at, captured_at)
                session.add(version)
                session.flush()
                for position, alt in enumerate(media_alt_texts):
                    sha = hashlib.sha256(f"{version.id}-{position}".encode()).hexdigest()
                    session.add(
                        StoredObject(sha256=sha, size=1, mime_type="image/png", kind="media")
                    )
                    session.flush()
                    session.add(
                        VersionMedia(
                            version_id=version.id, position=position, sha256=sha, alt_text=alt
                        )
                    )
                session.flush()
                index_version(session, version.id)
                version_ids.append(version.id)
            if removed:
                removal = CapturedVersion(
                    post_id=post.id,
                    number=len(versions) + 1,
                    kind=VersionKind.removal,
                    captured_at=captured_at + dt.timedelta(days=1),
                    content_hash="0" * 64,
                    source_sha256="0" * 64,
                    normalized={"kind": "deleted", "reason": "404"},
                    text=None,
                    collector="mastodon",
                    collector_version="1",
                )
                session.add(removal)
                session.flush()
                index_version(session, removal.id)
            return post.id, version_ids

    def search(self, q: str, **filters: Any) -> SearchPage:
        with self.db.session() as session:
            viewer = session.get(User, self.officer.user.id)
            assert viewer is not None
            return search(session, query=SearchQuery(q=q, **filters), viewer=viewer)

    def post_ids(self, q: str, **filters: Any) -> set[int]:
        return {hit.post_id for hit in self.search(q, limit=100, **filters).hits}


def _version_row(
    post_id: int,
    number: int,
    collected: CollectedPost,
    created_at: dt.datetime | None,
    captured_at: dt.datetime,
) -> CapturedVersion:
    normalized = collected.model_dump(mode="json")
    return CapturedVersion(
        post_id=post_id,
        number=number,
        kind=VersionKind.capture,
        captured_at=captured_at + dt.timedelta(hours=number - 1),
        content_hash=hashlib.sha256(repr(normalized).encode()).hexdigest(),
        source_sha256="0" * 64,
        source_json="{}",
        normalized=normalized,
        text=collected.text,
        author_handle=collected.author.handle,
        author_name=collected.author.display_name,
        platform_created_at=created_at,
        collector=collected.platform,
        collector_version="1",
    )


def collected(
    text: str,
    *,
    platform: str = "mastodon",
    handle: str = "parks@social.city.example",
    name: str = "Parks Department",
    replies: Sequence[tuple[str, str, str]] = (),
    alt_texts: Sequence[str] = (),
) -> CollectedPost:
    """A CollectedPost as a collector normalises it; replies are (handle, name, text)."""
    return CollectedPost(
        platform=platform,
        post_id="1",
        url="https://social.city.example/@parks/1",
        author=Author(handle=handle, display_name=name),
        text=text,
        html=f"<p>{text}</p>",
        created_at=JUNE,
        media=[
            MediaRef(url=f"https://files.example/{i}.png", alt_text=alt)
            for i, alt in enumerate(alt_texts)
        ],
        replies=[
            Reply(
                id=str(i),
                author=Author(handle=r_handle, display_name=r_name),
                text=r_text,
            )
            for i, (r_handle, r_name, r_text) in enumerate(replies)
        ],
    )


@pytest.fixture
def officer(make_person: MakePerson) -> Person:
    return make_person("records_officer")


@pytest.fixture
def employee(make_person: MakePerson) -> Person:
    return make_person("employee")


@pytest.fixture
def archive(db: Database, officer: Person) -> Archive:
    return Archive(db, officer)


# --- what is searchable -------------------------------------------------------------


def test_finds_words_in_text_author_replies_and_media_descriptions(
    archive: Archive, employee: Person
) -> None:
    account = archive.account(employee)
    post_id, _ = archive.post(
        account,
        collected(
            "The municipal pool closes Monday for repairs.",
            handle="aquatics@social.city.example",
            name="Westside Aquatics",
            replies=[("resident@other.example", "Hortensia Blake", "Will the sauna reopen?")],
            alt_texts=["A lifeguard chair beside the diving board"],
        ),
        media_alt_texts=["Chlorine delivery truck"],
    )
    other, _ = archive.post(account, collected("Library hours change in July."))

    assert archive.post_ids("municipal pool") == {post_id}  # the post's text
    assert archive.post_ids("Westside") == {post_id}  # author display name
    assert archive.post_ids("aquatics") == {post_id}  # author handle
    assert archive.post_ids("sauna reopen") == {post_id}  # a reply's text
    assert archive.post_ids("Hortensia") == {post_id}  # a reply's author
    assert archive.post_ids("lifeguard diving") == {post_id}  # alt text in the JSON
    assert archive.post_ids("chlorine") == {post_id}  # VersionMedia.alt_text
    assert archive.post_ids("library") == {other}
    assert archive.post_ids("zeppelin") == set()


def test_link_cards_and_quoted_posts_are_searchable(archive: Archive, employee: Person) -> None:
    post = collected("See the notice")
    post.link_card = LinkCard(url="https://city.example/n", title="Reservoir maintenance notice")
    post_id, _ = archive.post(archive.account(employee), post)
    assert archive.post_ids("reservoir") == {post_id}


def test_stemming_and_diacritics(archive: Archive, employee: Person) -> None:
    account = archive.account(employee)
    post_id, _ = archive.post(account, collected("Closures at the Café Olé on Elm Street"))
    assert archive.post_ids("closure") == {post_id}
    assert archive.post_ids("cafe ole") == {post_id}
    assert archive.post_ids("CAFÉ") == {post_id}


def test_hits_are_versions_with_their_details(archive: Archive, employee: Person) -> None:
    account = archive.account(employee)
    post_id, (v1, v2) = archive.post(
        account,
        collected("Splash pad opens Saturday"),
        collected("Splash pad opens Sunday, not Saturday"),
    )
    page = archive.search("Sunday")
    assert page.total == 1
    hit = page.hits[0]
    assert (hit.post_id, hit.version_id, hit.version) == (post_id, v2, 2)
    assert hit.platform == "mastodon"
    assert hit.url.startswith("https://mastodon.example/posts/")
    assert (hit.author_handle, hit.author_name) == ("parks@social.city.example", "Parks Department")
    assert hit.captured_at == JUNE + dt.timedelta(hours=1)
    assert hit.created_at == JUNE
    assert hit.rank > 0

    both = archive.search("splash Saturday")
    assert both.total == 2
    assert {(h.version_id, h.version) for h in both.hits} == {(v1, 1), (v2, 2)}


def test_removal_versions_are_not_indexed(archive: Archive, employee: Person, db: Database) -> None:
    post_id, (v1,) = archive.post(archive.account(employee), collected("Farewell"), removed=True)
    with db.session() as session:
        rows = session.execute(
            text("SELECT version_id FROM search_index WHERE post_id = :p"), {"p": post_id}
        ).scalars()
        assert list(rows) == [v1]


def test_reindexing_a_version_replaces_its_row(
    archive: Archive, employee: Person, db: Database
) -> None:
    post_id, (v1,) = archive.post(archive.account(employee), collected("Fountain repaired"))
    with db.session() as session:
        index_version(session, v1)
        index_version(session, v1)
    page = archive.search("fountain")
    assert page.total == 1
    assert [h.version_id for h in page.hits] == [v1]


def test_a_disposed_version_leaves_the_index(
    archive: Archive, employee: Person, db: Database
) -> None:
    _, (v1,) = archive.post(archive.account(employee), collected("Graffiti removal crew"))
    with db.session() as session:
        version = session.get(CapturedVersion, v1)
        assert version is not None
        version.normalized = None
        version.text = None
        version.source_json = None
        session.flush()
        index_version(session, v1)
    assert archive.search("graffiti").total == 0


# --- filters ------------------------------------------------------------------------


def test_filter_by_employee_account_and_platform(archive: Archive, make_person: MakePerson) -> None:
    alice, bob = make_person(), make_person()
    alice_masto = archive.account(alice, "mastodon")
    alice_bsky = archive.account(alice, "bluesky", "alice.bsky.social")
    bob_masto = archive.account(bob, "mastodon")
    a1, _ = archive.post(alice_masto, collected("Budget hearing tonight"))
    a2, _ = archive.post(alice_bsky, collected("Budget hearing recap", platform="bluesky"))
    b1, _ = archive.post(bob_masto, collected("Budget hearing parking"))

    assert archive.post_ids("budget") == {a1, a2, b1}
    assert archive.post_ids("budget", employee_id=alice.user.id) == {a1, a2}
    assert archive.post_ids("budget", employee_id=bob.user.id) == {b1}
    assert archive.post_ids("budget", account_id=alice_bsky) == {a2}
    assert archive.post_ids("budget", platform="bluesky") == {a2}
    assert archive.post_ids("budget", platform="mastodon") == {a1, b1}
    assert archive.post_ids("budget", platform="youtube") == set()
    assert archive.post_ids("budget", employee_id=bob.user.id, platform="bluesky") == set()


def test_filter_by_date_uses_posted_date_then_captured_date(
    archive: Archive, employee: Person
) -> None:
    account = archive.account(employee)
    may, _ = archive.post(
        account, collected("Permit office"), created_at=dt.datetime(2026, 5, 31, 23, tzinfo=dt.UTC)
    )
    june_first, _ = archive.post(
        account, collected("Permit desk"), created_at=dt.datetime(2026, 6, 1, 0, tzinfo=dt.UTC)
    )
    june_last, _ = archive.post(
        account, collected("Permit line"), created_at=dt.datetime(2026, 6, 30, 23, tzinfo=dt.UTC)
    )
    # No platform date (a feed without one): the capture date counts.
    undated, _ = archive.post(
        account,
        collected("Permit fees"),
        created_at=None,
        captured_at=dt.datetime(2026, 6, 15, 12, tzinfo=dt.UTC),
    )
    june = {"date_from": dt.date(2026, 6, 1), "date_to": dt.date(2026, 6, 30)}
    assert archive.post_ids("permit", **june) == {june_first, june_last, undated}
    assert archive.post_ids("permit", date_to=dt.date(2026, 5, 31)) == {may}
    assert archive.post_ids("permit", date_from=dt.date(2026, 6, 16)) == {june_last}


def _classify(db: Database, version_id: int, label: str, *, current: bool = True) -> None:
    with db.session() as session:
        session.add(
            Classification(
                version_id=version_id,
                label=label,
                rule_id="test",
                reasons=["test"],
                classifier_version="1",
                config_hash="0" * 64,
                is_current=current,
            )
        )


def test_filter_by_classification_label_with_overrides(
    archive: Archive, employee: Person, officer: Person, db: Database
) -> None:
    account = archive.account(employee)
    record, (r1,) = archive.post(account, collected("Snow emergency declared"))
    copy, (c1,) = archive.post(account, collected("Snow emergency reposted"))
    overridden, (o1,) = archive.post(account, collected("Snow emergency thread"))
    revoked, (v1,) = archive.post(account, collected("Snow emergency update"))
    unclassified, _ = archive.post(account, collected("Snow emergency parking"))
    _classify(db, r1, "secondary_copy", current=False)  # superseded
    _classify(db, r1, "record")
    _classify(db, c1, "secondary_copy")
    _classify(db, o1, "secondary_copy")
    _classify(db, v1, "record")
    with db.session() as session:
        session.add(
            ClassificationOverride(
                post_id=overridden, label="record", reason="original", officer_id=officer.user.id
            )
        )
        session.add(
            ClassificationOverride(
                post_id=revoked,
                label="transitory",
                reason="mistake",
                officer_id=officer.user.id,
                revoked_at=JUNE,
            )
        )

    assert archive.post_ids("snow", label="record") == {record, overridden, revoked}
    assert archive.post_ids("snow", label="secondary_copy") == {copy}
    assert archive.post_ids("snow", label="transitory") == set()
    assert unclassified in archive.post_ids("snow")


def test_filter_edited_and_removed(archive: Archive, employee: Person) -> None:
    account = archive.account(employee)
    edited, _ = archive.post(account, collected("Curfew 9pm"), collected("Curfew 10pm"))
    removed, _ = archive.post(account, collected("Curfew lifted"), removed=True)
    plain, _ = archive.post(account, collected("Curfew reminder"))

    assert archive.post_ids("curfew", edited=True) == {edited}
    # A removal version is not an edit.
    assert archive.post_ids("curfew", edited=False) == {removed, plain}
    assert archive.post_ids("curfew", removed=True) == {removed}
    assert archive.post_ids("curfew", removed=False) == {edited, plain}
    assert archive.post_ids("curfew", edited=True, removed=True) == set()


def test_filter_held(archive: Archive, employee: Person, officer: Person, db: Database) -> None:
    account = archive.account(employee)
    held, _ = archive.post(account, collected("Zoning variance approved"))
    released, _ = archive.post(account, collected("Zoning variance denied"))
    free, _ = archive.post(account, collected("Zoning variance hearing"))
    with db.session() as session:
        active = Hold(
            kind="litigation", reason="suit", authority="counsel", placed_by_id=officer.user.id
        )
        old = Hold(
            kind="audit",
            reason="audit",
            authority="auditor",
            placed_by_id=officer.user.id,
            released_at=JUNE,
            released_by_id=officer.user.id,
        )
        session.add_all([active, old])
        session.flush()
        session.add_all(
            [
                HeldPost(hold_id=active.id, post_id=held),
                HeldPost(hold_id=old.id, post_id=released),
            ]
        )

    assert archive.post_ids("zoning", held=True) == {held}
    assert archive.post_ids("zoning", held=False) == {released, free}


# --- query language -----------------------------------------------------------------


def test_phrases_or_and_exclusion(archive: Archive, employee: Person) -> None:
    account = archive.account(employee)
    phrase, _ = archive.post(account, collected("The pool closure starts Monday"))
    apart, _ = archive.post(account, collected("Pool hours: no closure expected"))
    beach, _ = archive.post(account, collected("Beach closure starts Monday"))
    swim, _ = archive.post(account, collected("Pool closure affects the swim team"))

    assert archive.post_ids("pool closure") == {phrase, apart, swim}
    assert archive.post_ids('"pool closure"') == {phrase, swim}
    assert archive.post_ids("pool OR beach") == {phrase, apart, beach, swim}
    assert archive.post_ids("closure -pool") == {beach}
    assert archive.post_ids('"pool closure" -"swim team"') == {phrase}
    assert archive.post_ids("monday pool OR beach -swim") == {phrase, beach}
    # Lower-case "or" is a word like any other, not an operator.
    assert archive.post_ids("pool or beach") == set()


def test_stop_words_are_left_out_of_unquoted_words(archive: Archive, employee: Person) -> None:
    """Both backends ignore "the", "of" ... between words; a quoted phrase keeps them."""
    account = archive.account(employee)
    closed, _ = archive.post(account, collected("Pool closed for repairs"))
    phrase, _ = archive.post(account, collected("Closure of the pool on Friday"))
    assert archive.post_ids("the pool") == {closed, phrase}
    assert archive.post_ids("pool -the") == {closed, phrase}
    # PostgreSQL keeps the stop words' positions inside a phrase, not the words themselves.
    assert archive.post_ids('"closure of the pool"') == {phrase}
    assert archive.post_ids('"closure pool"') == set()


def test_query_syntax_in_user_input_is_inert(archive: Archive, employee: Person) -> None:
    """Characters that mean something to FTS5 or tsquery are just separators."""
    post_id, _ = archive.post(archive.account(employee), collected("Road work on NEAR street"))
    for q in ["road* NEAR(street)", "road:work", "road & !work", "road^ | (work)", "{road} work:*"]:
        assert archive.post_ids(q) == {post_id}, q


def test_parse_query_structure() -> None:
    parsed = parse_query('parks "pool closure" OR beach -"swim team" -lifeguard')
    assert [[t.words for t in g] for g in parsed.groups] == [
        [("parks",)],
        [("pool", "closure"), ("beach",)],
    ]
    assert [t.words for t in parsed.excluded] == [("swim", "team"), ("lifeguard",)]
    assert fts5_expression(parse_query("x")) == '"x"'
    assert (
        fts5_expression(parse_query("pool closure")) == '("pool" AND "closure") OR "pool closure"'
    )


@pytest.mark.parametrize(
    ("q", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("-pool", "no words"),
        ("!!! ???", "no words"),
        ('"pool closure', "closing"),
        ("OR pool", "OR must stand"),
        ("pool OR", "OR must stand"),
        ("pool OR OR beach", "OR must stand"),
        ("pool OR -beach", "excluded"),
        (" ".join(f"w{i}" for i in range(40)), "more than"),
    ],
)
def test_bad_queries_are_invalid(q: str, message: str) -> None:
    with pytest.raises(Invalid, match=message):
        parse_query(q)


# --- ranking, pagination, snippets ----------------------------------------------------


def test_ranking(archive: Archive, employee: Person) -> None:
    account = archive.account(employee)
    one_word, _ = archive.post(account, collected("Crosswalk painting on Oak Avenue this week"))
    both_words, _ = archive.post(account, collected("Crosswalk and signal upgrades on Oak Avenue"))
    scattered, _ = archive.post(
        account, collected("New signal timing downtown, and we repainted the crosswalk too")
    )
    adjacent, _ = archive.post(
        account, collected("The crosswalk signal at Main is fixed; thanks for your patience")
    )

    ranked = [h.post_id for h in archive.search("crosswalk OR signal").hits]
    assert ranked.index(both_words) < ranked.index(one_word)

    ranked = [h.post_id for h in archive.search("crosswalk signal").hits]
    assert ranked[0] == adjacent
    assert set(ranked) == {both_words, scattered, adjacent}
    ranks = [h.rank for h in archive.search("crosswalk signal").hits]
    assert ranks == sorted(ranks, reverse=True)


def test_pagination_is_stable_and_complete(archive: Archive, employee: Person) -> None:
    account = archive.account(employee)
    expected = set()
    for i in range(23):
        post_id, _ = archive.post(account, collected(f"Leaf pickup zone {i} " + "leaf " * (i % 3)))
        expected.add(post_id)
    whole = archive.search("leaf pickup", limit=100)
    assert whole.total == 23

    pages = [archive.search("leaf pickup", limit=10, offset=o) for o in (0, 10, 20)]
    assert [p.total for p in pages] == [23, 23, 23]
    assert [len(p.hits) for p in pages] == [10, 10, 3]
    paged = [h.version_id for p in pages for h in p.hits]
    assert paged == [h.version_id for h in whole.hits]
    assert {h.post_id for h in whole.hits} == expected
    assert archive.search("leaf pickup", limit=10, offset=10) == pages[1]
    beyond = archive.search("leaf pickup", offset=50)
    assert (beyond.total, beyond.hits) == (23, [])


def test_snippets_mark_matches_and_escape_html(archive: Archive, employee: Person) -> None:
    archive.post(
        archive.account(employee),
        collected('Hydrant <script>alert("x")</script> flushing & testing on Elm'),
    )
    snippet = archive.search("hydrant flushing").hits[0].snippet
    assert "<mark>Hydrant</mark>" in snippet
    assert "<mark>flushing</mark>" in snippet
    assert "<script>" not in snippet
    assert "&lt;script&gt;" in snippet
    assert "&amp;" in snippet
    assert snippet.count("<mark>") == snippet.count("</mark>") == 2


def test_snippet_shows_a_match_in_the_replies(archive: Archive, employee: Person) -> None:
    archive.post(
        archive.account(employee),
        collected("Council meeting tonight", replies=[("r@x.example", "R", "Is the quorum met?")]),
    )
    assert "<mark>quorum</mark>" in archive.search("quorum").hits[0].snippet


# --- disposition ----------------------------------------------------------------------


def test_remove_post_from_index(archive: Archive, employee: Person, db: Database) -> None:
    account = archive.account(employee)
    gone, _ = archive.post(account, collected("Ballot drop box"), collected("Ballot drop boxes"))
    kept, _ = archive.post(account, collected("Ballot deadline"))
    with db.session() as session:
        assert remove_post_from_index(session, gone) == 2
    assert archive.post_ids("ballot") == {kept}
    assert archive.search("drop box").total == 0
    with db.session() as session:
        assert remove_post_from_index(session, gone) == 0
        count = session.execute(text("SELECT count(*) FROM search_index")).scalar_one()
        assert count == 1


def test_removal_from_index_rolls_back_with_its_transaction(
    archive: Archive, employee: Person, db: Database
) -> None:
    post_id, _ = archive.post(archive.account(employee), collected("Tree permit"))

    def failing_disposition() -> None:
        with db.session() as session:
            remove_post_from_index(session, post_id)
            raise RuntimeError("disposition failed")

    with pytest.raises(RuntimeError):
        failing_disposition()
    assert archive.post_ids("tree permit") == {post_id}


# --- access and the API ------------------------------------------------------------------


def test_service_refuses_employees(db: Database, employee: Person) -> None:
    with db.session() as session:
        viewer = session.get(User, employee.user.id)
        assert viewer is not None
        with pytest.raises(Forbidden):
            search(session, query=SearchQuery(q="pool"), viewer=viewer)


def test_api_search(
    client: TestClient, archive: Archive, officer: Person, employee: Person
) -> None:
    account = archive.account(employee)
    post_id, (v1,) = archive.post(account, collected("Pothole on <b>Birch</b> Lane"))
    response = client.get(
        "/api/v1/search",
        params={"q": "pothole birch", "employee_id": employee.user.id, "date_from": "2026-06-01"},
        headers=officer.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["total"] == 1
    assert (body["limit"], body["offset"]) == (20, 0)
    hit = body["hits"][0]
    assert (hit["post_id"], hit["version_id"], hit["version"]) == (post_id, v1, 1)
    assert "<mark>Pothole</mark>" in hit["snippet"]
    assert "&lt;b&gt;<mark>Birch</mark>&lt;/b&gt;" in hit["snippet"]

    admin_like = client.get("/api/v1/search", params={"q": "zzz"}, headers=officer.headers)
    assert admin_like.json() == {"total": 0, "limit": 20, "offset": 0, "hits": []}


def test_api_forbids_employees_and_strangers(client: TestClient, employee: Person) -> None:
    response = client.get("/api/v1/search", params={"q": "pool"}, headers=employee.headers)
    assert response.status_code == 403
    assert client.get("/api/v1/search", params={"q": "pool"}).status_code == 401


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "q"),
        ({"q": ""}, "empty"),
        ({"q": '"unclosed'}, "closing"),
        ({"q": "-only"}, "no words"),
        ({"q": "a OR"}, "OR must stand"),
        ({"q": "pool", "date_from": "2026-07-01", "date_to": "2026-06-01"}, "date_from"),
        ({"q": "pool", "date_from": "June"}, "date_from"),
        ({"q": "pool", "limit": "1000"}, "limit"),
        ({"q": "pool", "offset": "-1"}, "offset"),
        ({"q": "pool", "platform": "myspace"}, "platform"),
        ({"q": "pool", "label": "gossip"}, "label"),
        ({"q": "pool", "held": "maybe"}, "held"),
        ({"q": "pool", "sort": "date"}, "sort"),
        ({"q": "x" * 501}, "q"),
    ],
)
def test_api_bad_queries_are_422(
    client: TestClient, officer: Person, params: dict[str, str], message: str
) -> None:
    response = client.get("/api/v1/search", params=params, headers=officer.headers)
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]


def test_index_shares_the_capture_transaction(
    archive: Archive, employee: Person, db: Database
) -> None:
    """A capture that rolls back leaves no index row behind."""
    account = archive.account(employee)
    post_id, _ = archive.post(account, collected("Sidewalk"))

    def failing_capture() -> None:
        with db.session() as session:
            version = _version_row(post_id, 2, collected("Sidewalk snow shoveling"), JUNE, JUNE)
            session.add(version)
            session.flush()
            index_version(session, version.id)
            assert _count_index(session) == 2
            raise RuntimeError("capture failed")

    with pytest.raises(RuntimeError):
        failing_capture()
    with db.session() as session:
        assert _count_index(session) == 1
    assert archive.search("shoveling").total == 0


def _count_index(session: Session) -> int:
    return int(session.execute(text("SELECT count(*) FROM search_index")).scalar_one())


def test_wiping_versions_cascades_to_the_index(
    archive: Archive, employee: Person, db: Database
) -> None:
    archive.post(archive.account(employee), collected("Cascade"))
    with db.session() as session:
        session.execute(text("DELETE FROM version_media"))
        session.execute(text("DELETE FROM captured_versions"))
        assert _count_index(session) == 0
        assert session.scalar(select(func.count()).select_from(CapturedVersion)) == 0
    assert archive.search("cascade").total == 0
