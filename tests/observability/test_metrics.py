"""`/metrics`: off without its token setting, refused without the token, and once a post was
captured from a loopback instance, the figures an operator alerts on — read with
prometheus-client's own parser, not by string matching."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from app.collectors.service import CaptureContext
from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.collectors.test_capture_pipeline import capture, context_for, flag_on
from tests.conftest import MakePerson
from tests.platforms.mastodon_like import MastodonInstance, mastodon_instance

TOKEN = "metrics-token-for-tests-7f3a"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.fixture
def instance() -> Iterator[MastodonInstance]:
    with mastodon_instance() as inst:
        yield inst


@pytest.fixture
def metered(settings: Settings, db: Database, instance: MastodonInstance) -> Iterator[TestClient]:
    with_token = settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    ctx: CaptureContext = context_for(db, with_token, instance.netloc)
    app = create_app(with_token, database=db)
    app.state.capture_context = lambda: ctx
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client
    ctx.client.close()


def test_metrics_are_off_without_the_setting(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 404
    assert "POSTVAULT_METRICS_TOKEN" in response.json()["detail"]


def test_metrics_need_the_token(metered: TestClient) -> None:
    assert metered.get("/metrics").status_code == 401
    wrong = metered.get("/metrics", headers={"Authorization": "Bearer not-it"})
    assert wrong.status_code == 401
    assert TOKEN not in wrong.text


def test_metrics_after_a_capture(
    metered: TestClient, make_person: MakePerson, instance: MastodonInstance
) -> None:
    ann = make_person()
    instance.add("117020586180926938", "<p>Pool closes June 3.</p>", media=1)
    instance.add("117020586180926939", "<p>Pool opens June 9.</p>")
    first = flag_on(metered, ann, instance, "117020586180926938")
    flag_on(metered, ann, instance, "117020586180926939")
    assert capture(metered, ann, first)["outcome"] == "new_version"

    response = metered.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert TOKEN not in response.text
    found = samples(response.text)
    assert (
        found[("postvault_captures_total", (("outcome", "new_version"), ("platform", "mastodon")))]
        == 1
    )
    # Both are due: a capture asked for by hand does not use up the post's scheduled poll.
    assert found[("postvault_capture_queue_depth", ())] == 2
    assert found[("postvault_capture_oldest_due_seconds", ())] >= 0
    assert found[("postvault_capture_seconds_count", (("platform", "mastodon"),))] >= 1
    # The snapshot made after the capture was timed too.
    assert found[("postvault_render_seconds_count", ())] >= 1
    for family in ("postvault_fixity_checks", "postvault_package_jobs"):
        assert f"# TYPE {family}" in response.text
