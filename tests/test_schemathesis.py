"""The API against its own OpenAPI document (issue 13, item 12), on the suite's database.

Schemathesis generates requests for every operation, valid and invalid data, bounded in
examples, and runs every check it has on each answer (no server error; status, content
type, headers and body as documented; invalid data rejected; unsupported methods a 405
with Allow). Requests go to the app itself (ASGI), as an admin, who may call every
operation. Every failure of every operation is collected and reported together.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.modes import GenerationMode

from app.config import Settings
from app.db import Database
from app.main import create_app
from tests.conftest import MakePerson

# Started from the API, these begin real work (fetching from platforms, building response
# packages, destroying records); their inputs are tested by their own suites.
LONG_JOBS = ("/capture", "/package", "/run")
EXAMPLES = 6
# Schema-valid data may still be refused with 400/422: the services check what a JSON
# schema cannot say (a URL must be a post URL of a known platform, an email address must
# look like one, a request's state must allow the change). Still never a 5xx.
CONFIG = SchemathesisConfig.from_str(
    """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", "400", "401", "403", "404", "409", "422", "429"]
"""
)


def _run(
    operation: Any, mode: GenerationMode, headers: dict[str, str], calls: list[int]
) -> list[str]:
    failures: list[str] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: schemathesis.Case[Any]) -> None:
        calls.append(1)
        try:
            case.call_and_validate(headers=headers)
        except AssertionError as exc:
            failures.append(f"{operation.label} ({mode.value}): {str(exc).strip()[:600]}")
        except (Exception, BaseExceptionGroup) as exc:  # several failures, or a check erring
            failures.append(f"{operation.label} ({mode.value}): {type(exc).__name__}: {exc}")

    try:
        check()
    except Unsatisfiable:
        # Nothing to make invalid: an operation without parameters or body.
        assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid request"
    return failures


def test_api_matches_its_openapi_document(
    settings: Settings, db: Database, make_person: MakePerson
) -> None:
    admin = make_person("admin")
    app = create_app(settings.model_copy(update={"run_scheduler": False}), database=db)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG)
    failures: list[str] = []
    calls: list[int] = []
    operations = 0
    for result in schema.get_all_operations():
        operation: Any = result.ok()  # type: ignore[union-attr]  # an Err raises: a bad schema
        if operation.path.endswith(LONG_JOBS):
            continue
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            failures += _run(operation, mode, admin.headers, calls)
    assert operations > 40
    assert len(calls) > operations * EXAMPLES  # the cases were really sent
    unique = sorted(set(failures))
    assert unique == [], f"{len(unique)} findings:\n" + "\n\n".join(unique)
