"""The registry is the one list of platforms: a platform added there alone is recognised by
the API, listed in the OpenAPI enum and named on the Flag page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.db import Database
from app.errors import Invalid
from app.main import create_app
from app.platforms.base import AccountRef, Platform, PostRef, UrlForm, UrlParts
from app.platforms.collected import CaptureTarget, Collector, CollectResult, NotVisible
from app.platforms.fetcher import Fetcher, FetchingCollector
from app.platforms.registry import registry
from tests.conftest import MakePerson
from tests.web.support import give_password, sign_in

APP_DIR = Path(__file__).resolve().parents[2] / "app"


class Throwaway(Platform):
    """A platform that exists only in this test: posts at https://throwaway.test/p/<n>."""

    id = "throwaway"
    name = "Throwaway Social"
    supported = "a Throwaway post (https://throwaway.test/p/<number>)"
    handle_help = "your Throwaway name"
    url_forms: ClassVar[tuple[UrlForm, ...]] = (UrlForm("post", "https://throwaway.test/p/1"),)
    order = 30

    def parse_post_url(self, url: UrlParts) -> PostRef | None:
        if url.netloc != "throwaway.test":
            return None
        segments = url.segments
        if len(segments) == 3 and segments[0] == "p" and segments[2].isdigit():
            return PostRef(self.id, segments[1], segments[2], url.raw)
        raise Invalid("a Throwaway post URL looks like https://throwaway.test/p/<user>/<n>")

    def account_from_handle(self, handle: str) -> AccountRef:
        name = handle.strip().lower()
        return AccountRef(self.id, name, f"https://throwaway.test/u/{name}")

    def collector(self, settings: Settings, fetcher: Fetcher) -> Collector:
        return ThrowawayCollector(fetcher)


class ThrowawayCollector(FetchingCollector):
    """Throwaway has no server to read; capture is not what this test is about."""

    platform = "throwaway"
    version = "throwaway/1"

    def collect(self, target: CaptureTarget, client: httpx.Client) -> CollectResult:
        return NotVisible(reason="throwaway.test has no server")


@pytest.fixture
def throwaway_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with registry.added(Throwaway()):
        app = create_app(settings, database=db)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client


def test_a_platform_added_to_the_registry_alone_is_recognised_listed_and_shown(
    throwaway_client: TestClient, db: Database, make_person: MakePerson
) -> None:
    client = throwaway_client
    tom = make_person()
    account = client.post(
        "/api/v1/accounts", json={"platform": "throwaway", "handle": "Tom"}, headers=tom.headers
    )
    assert account.status_code == 201, account.text
    assert account.json()["handle"] == "tom"

    flagged = client.post(
        "/api/v1/posts", json={"url": "https://throwaway.test/p/tom/42"}, headers=tom.headers
    )
    assert flagged.status_code == 201, flagged.text
    assert flagged.json()["platform"] == "throwaway"
    assert flagged.json()["external_id"] == "42"
    listed = client.get("/api/v1/posts?platform=throwaway", headers=tom.headers)
    assert listed.status_code == 200
    assert listed.json()["total"] == 1
    refused = client.post(
        "/api/v1/posts", json={"url": "https://throwaway.test/about"}, headers=tom.headers
    )
    assert refused.status_code == 422
    assert "Throwaway post URL looks like" in refused.json()["detail"]

    schema = client.get("/openapi.json").json()
    params = schema["paths"]["/api/v1/posts"]["get"]["parameters"]
    platform_param = next(p for p in params if p["name"] == "platform")
    enums = [
        option["enum"]
        for option in platform_param["schema"].get("anyOf", [platform_param["schema"]])
        if "enum" in option
    ]
    assert enums
    assert "throwaway" in enums[0]
    assert enums[0] == registry.ids()
    account_field = schema["components"]["schemas"]["AccountCreate"]["properties"]["platform"]
    assert "throwaway" in str(account_field)

    give_password(db, tom.user)
    sign_in(client, tom.user.email)
    page = client.get("/flag")
    assert page.status_code == 200
    assert "Throwaway Social" in page.text
    assert "a Throwaway post (https://throwaway.test/p/&lt;number&gt;)" in page.text
    accounts = client.get("/accounts")
    assert '<option value="throwaway">Throwaway Social</option>' in accounts.text
    assert "Throwaway Social: your Throwaway name" in accounts.text


def test_the_registry_forgets_a_throwaway_platform_after_its_block() -> None:
    with registry.added(Throwaway()):
        assert registry.recognise_post("https://throwaway.test/p/a/1")[0].platform == "throwaway"
    assert "throwaway" not in registry
    assert registry.recognise_post("https://throwaway.test/p/a/1")[0].platform != "throwaway"


def test_a_platform_cannot_be_registered_twice() -> None:
    with registry.added(Throwaway()), pytest.raises(ValueError, match="registered twice"):
        registry.add(Throwaway())


def test_an_unknown_platform_filter_names_the_known_ones(
    client: TestClient, make_person: MakePerson
) -> None:
    person = make_person()
    response = client.get("/api/v1/posts?platform=myspace", headers=person.headers)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "unknown platform 'myspace'" in detail
    for platform_id in registry.ids():
        assert platform_id in detail


def test_every_declared_setting_exists() -> None:
    for platform in registry:
        for name in platform.settings:
            assert name in Settings.model_fields, f"{platform.id} reads unknown setting {name}"


def test_platform_ids_appear_only_inside_their_packages() -> None:
    """Issue 11: `grep -rn '"<id>"' app/` finds a platform's id only in its own package
    (and migrations), so adding a platform never means editing scattered tables. A line that
    says why its string is not a platform id (`# not a platform id: ...`) is not one."""
    offenders: list[str] = []
    for platform in registry:
        own = APP_DIR / "platforms" / platform.id
        quoted = re.compile(rf"[\"']{re.escape(platform.id)}[\"']")
        for path in APP_DIR.rglob("*.py"):
            if own in path.parents or "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if quoted.search(line) and "# not a platform id" not in line:
                    offenders.append(f"{path.relative_to(APP_DIR.parent)}:{number}: {line.strip()}")
    assert offenders == []
