"""The notices job: find what people must be told, then send what is due."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from app.config import Settings
from app.db import Database
from app.notices import service
from app.notices.mail import Mail, MailError, SmtpConfig, send_mails
from app.retention.calendar import load_calendar, local_today

log = logging.getLogger("postvault.notices")


def notices_job(database: Database, settings: Settings) -> None:
    config = SmtpConfig.from_settings(settings)
    if config is None:
        return  # no mail server configured: nothing is noticed or sent

    def send(mails: list[Mail]) -> list[MailError | None]:
        return send_mails(config, mails)

    calendar = load_calendar(settings.holiday_calendar, settings.holidays_dir)
    with database.session() as session:
        found = service.scan(
            session,
            settings=settings,
            calendar=calendar,
            today=local_today(settings.retention_timezone),
        )
    # A separate transaction: the notices found are kept even if the mail server is down.
    with database.session() as session:
        report = service.deliver(session, send=send)
    if found or report.sent or report.errors:
        log.info(
            "notices: %s new, %s mails sent (%s digests), %s to retry, %s given up%s",
            found,
            report.sent,
            report.digests,
            report.retried,
            report.failed,
            f"; last error: {report.errors[-1]}" if report.errors else "",
        )


JOBS: list[tuple[str, Callable[[Database, Settings], None], dict[str, Any]]] = [
    ("notices", notices_job, {"trigger": "interval", "minutes": 5}),
]
