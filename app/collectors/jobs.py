"""Scheduled capture: each tick claims due posts in the database and captures them."""

from __future__ import annotations

import logging

from app.collectors.service import CaptureContext, run_due

log = logging.getLogger("postvault.capture")


def capture_due_posts(context: CaptureContext) -> None:
    summary = run_due(context)
    if summary.claimed:
        log.info(
            "captured %d due posts: %s (%d HTTP requests)",
            summary.claimed,
            ", ".join(f"{k} {v}" for k, v in sorted(summary.outcomes.items())),
            summary.http_requests,
        )
