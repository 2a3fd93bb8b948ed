"""The daily job that refreshes Threads tokens before they lapse (and marks lapsed grants
"reconnect needed"); `refresh_threads_tokens` is idempotent, so a run twice does no harm."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from app.config import Settings
from app.connections.service import refresh_threads_tokens
from app.db import Database
from app.platforms.fetcher import Fetcher

log = logging.getLogger("postvault.connections")


def threads_token_refresh_job(database: Database, settings: Settings) -> None:
    with database.session() as session:
        refreshed = refresh_threads_tokens(session, settings, Fetcher.from_settings(settings))
    if refreshed:
        log.info("Threads tokens refreshed: %s", refreshed)


JOBS: list[tuple[str, Callable[[Database, Settings], None], dict[str, Any]]] = [
    (
        "connections.threads_token_refresh",
        threads_token_refresh_job,
        {"trigger": "interval", "hours": 24},
    ),
]
