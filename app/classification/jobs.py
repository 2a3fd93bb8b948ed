"""Daily: check that the primary copy of every secondary copy still exists (its archived post,
or its publication link); one that cannot be verified becomes a record and says why."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import httpx

from app.audit.service import Actor
from app.classification.service import verify_primaries
from app.config import Settings
from app.db import Database
from app.platforms.http import get_limited, make_client, policy_from_settings

log = logging.getLogger("postvault.classification")


def link_checker(client: httpx.Client) -> Callable[[str], bool]:
    """True when the URL answers with a success (after redirects); any refusal, error or
    4xx/5xx means the primary copy cannot be verified."""

    def alive(url: str) -> bool:
        try:
            return 200 <= get_limited(client, url, max_bytes=2 * 1024 * 1024).status < 400
        except Exception:  # refused, too large, timed out: not verified
            return False

    return alive


def verify_primaries_job(database: Database, settings: Settings) -> None:
    # The wiring module names what a label change sets off; imported here, when the job
    # runs, because app.pipeline imports this package.
    from app.pipeline import label_changed_hooks

    with make_client(policy_from_settings(settings)) as client, database.session() as session:
        changed = verify_primaries(
            session,
            actor=Actor.system("classification.verify_primaries"),
            link_checker=link_checker(client),
            on_label_changed=label_changed_hooks(settings),
        )
    if changed:
        log.warning("%d secondary copies lost their primary and are now records", len(changed))


JOBS: list[tuple[str, Callable[[Database, Settings], None], dict[str, Any]]] = [
    ("classification.verify_primaries", verify_primaries_job, {"trigger": "interval", "hours": 24}),
]
