"""The SQLite search picks its plan by how many rows the filters leave (FTS5 asked about
those rows, by a probe per candidate or one walk of the matches, bm25 per match or in one
walk; else every match joined to the filters); every plan answers the same page. PostgreSQL
has one plan: the same checks run there as a plain answer test."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from app.search import fts5_plan, service
from tests.conftest import MakePerson
from tests.open_records.test_search import JUNE, Archive, collected
from tests.open_records.test_search import archive as archive  # a fixture
from tests.open_records.test_search import officer as officer  # a fixture

ALWAYS = 10**9
# (_PROBE_CANDIDATES, RANK_PROBES, WALK_ROWS_PER_PROBE) on SQLite.
PLANS = {
    "probe, bm25 per match": (2_000, ALWAYS, 0),
    "probe, bm25 in one walk": (2_000, 0, 0),
    "walk, bm25 per match": (2_000, ALWAYS, ALWAYS),
    "walk, bm25 in one walk": (2_000, 0, ALWAYS),
    "estimated (the defaults)": (2_000, fts5_plan.RANK_PROBES, fts5_plan.WALK_ROWS_PER_PROBE),
    "join over every match": (0, 0, 0),
}


def test_every_plan_answers_the_same_pages(
    archive: Archive, make_person: MakePerson, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = make_person("employee"), make_person("employee")
    a, b = archive.account(alice), archive.account(bob, platform="bluesky")
    texts = [
        "Pool closure on Elm Street for repairs",
        "The pool reopens after the closure",
        "Budget hearing: pool hours and the street fund",
        "Street sweeping, no pool news",
    ]
    for day in range(12):
        for n, text in enumerate(texts):
            account = a if (day + n) % 3 else b
            created = JUNE - dt.timedelta(days=day * 10, minutes=n)
            archive.post(account, collected(f"{text} {day}"), created_at=created)
    queries: list[tuple[str, dict[str, Any]]] = [
        ("pool closure", {"employee_id": alice.user.id}),
        ("pool street", {"date_from": dt.date(2026, 4, 1), "date_to": dt.date(2026, 6, 1)}),
        ("pool -closure", {"employee_id": bob.user.id, "platform": "bluesky"}),
        ('"pool closure" OR hearing', {"account_id": a, "limit": 3, "offset": 2}),
        ("pool", {"employee_id": alice.user.id, "limit": 5, "offset": 100}),
        ("zebra crossing", {"employee_id": alice.user.id}),
    ]
    answers = {}
    for plan, (candidates, ranked, walk) in PLANS.items():
        monkeypatch.setattr(service, "_PROBE_CANDIDATES", candidates)
        monkeypatch.setattr(fts5_plan, "RANK_PROBES", ranked)
        monkeypatch.setattr(fts5_plan, "WALK_ROWS_PER_PROBE", walk)
        answers[plan] = [archive.search(q, **filters) for q, filters in queries]
    first = answers["probe, bm25 per match"]
    assert [page.total for page in first] == [16, 21, 8, 16, 32, 0]
    assert all(page.hits for page in first[:4])
    for plan, pages in answers.items():
        assert pages == first, plan
