"""`/metrics` in the Prometheus text format (prometheus-client), behind a bearer token.

Two kinds of figures:
- read from the database at each scrape, so they are true for the whole deployment however
  many `serve` and `worker` processes share it: captures by platform and outcome, the capture
  queue (posts due, age of the oldest due post), package jobs, fixity results and
  disposition batches by state, notices sent;
- timed in this process (prometheus-client histograms): capture latency and render seconds.
  A `worker` process keeps its own; deployments that want them scrape each process.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Iterator
from typing import Annotated

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.collectors.models import CaptureAttempt
from app.db import Database, utcnow
from app.errors import NotFound, Unauthorized
from app.open_records.models import ResponsePackage
from app.posts.models import FlaggedPost, PostStatus
from app.retention.models import DispositionBatch
from app.storage.models import FixityCheck

# Process-local timings. Their own registry, so several apps in one process (the tests) share
# them without registering twice.
PROCESS_REGISTRY = CollectorRegistry(auto_describe=True)
CAPTURE_SECONDS = Histogram(
    "postvault_capture_seconds",
    "Time to capture one post (fetch, compare, store), by platform.",
    ["platform"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=PROCESS_REGISTRY,
)
RENDER_SECONDS = Histogram(
    "postvault_render_seconds",
    "Time to render one PDF/A snapshot.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 4, 8, 16, 32),
    registry=PROCESS_REGISTRY,
)


def observe_capture(platform: str, seconds: float) -> None:
    CAPTURE_SECONDS.labels(platform=platform).observe(seconds)


def observe_render(seconds: float) -> None:
    RENDER_SECONDS.observe(seconds)


class DatabaseCollector(Collector):
    """Figures read from the database at scrape time."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def collect(self) -> Iterable[Metric]:
        with self.database.session() as session:
            yield from self._captures(session)
            yield from self._queue(session)
            yield from self._states(session)

    def _captures(self, session: Session) -> Iterator[Metric]:
        captures = CounterMetricFamily(
            "postvault_captures",
            "Capture attempts finished, by platform and outcome.",
            labels=["platform", "outcome"],
        )
        rows = session.execute(
            select(FlaggedPost.platform, CaptureAttempt.outcome, func.count())
            .join(FlaggedPost, FlaggedPost.id == CaptureAttempt.post_id)
            .where(CaptureAttempt.outcome.is_not(None))
            .group_by(FlaggedPost.platform, CaptureAttempt.outcome)
        ).all()
        for platform, outcome, count in rows:
            captures.add_metric([str(platform), str(outcome)], float(count))
        yield captures

    def _queue(self, session: Session) -> Iterator[Metric]:
        now = utcnow()
        due = (FlaggedPost.next_poll_at <= now, FlaggedPost.status != PostStatus.disposed)
        depth, oldest = session.execute(
            select(func.count(), func.min(FlaggedPost.next_poll_at)).where(*due)
        ).one()
        yield GaugeMetricFamily(
            "postvault_capture_queue_depth", "Posts whose capture is due now.", value=float(depth)
        )
        age = 0.0
        if oldest is not None:
            # SQLite hands back a naive UTC value from an aggregate (no column type applies).
            oldest_at = oldest if oldest.tzinfo else oldest.replace(tzinfo=now.tzinfo)
            age = max(0.0, (now - oldest_at).total_seconds())
        yield GaugeMetricFamily(
            "postvault_capture_oldest_due_seconds",
            "How long the oldest due post has waited for its capture.",
            value=age,
        )

    def _states(self, session: Session) -> Iterator[Metric]:
        packages = GaugeMetricFamily(
            "postvault_package_jobs", "Response package jobs by state.", labels=["state"]
        )
        for state, count in session.execute(
            select(ResponsePackage.status, func.count()).group_by(ResponsePackage.status)
        ).all():
            packages.add_metric([str(state)], float(count))
        yield packages

        fixity = CounterMetricFamily(
            "postvault_fixity_checks",
            "Fixity checks of stored objects, by result (ok, missing, mismatch, unreadable).",
            labels=["result"],
        )
        for ok, problem, count in session.execute(
            select(FixityCheck.ok, FixityCheck.problem, func.count()).group_by(
                FixityCheck.ok, FixityCheck.problem
            )
        ).all():
            fixity.add_metric(["ok" if ok else str(problem or "failed")], float(count))
        yield fixity

        batches = GaugeMetricFamily(
            "postvault_disposition_batches", "Disposition batches by state.", labels=["state"]
        )
        for state, count in session.execute(
            select(DispositionBatch.status, func.count()).group_by(DispositionBatch.status)
        ).all():
            batches.add_metric([str(state)], float(count))
        yield batches


def render_metrics(database: Database) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(database))
    return generate_latest(PROCESS_REGISTRY) + generate_latest(registry)


router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    summary="Prometheus metrics (bearer POSTVAULT_METRICS_TOKEN)",
    response_class=Response,
    responses={401: {"description": "No or wrong token"}, 404: {"description": "Metrics off"}},
)
def metrics(request: Request, authorization: Annotated[str | None, Header()] = None) -> Response:
    token = request.app.state.settings.metrics_token
    if token is None:
        raise NotFound("metrics are off: set POSTVAULT_METRICS_TOKEN to serve /metrics")
    given = (authorization or "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
        raise Unauthorized("/metrics needs 'Authorization: Bearer <POSTVAULT_METRICS_TOKEN>'")
    return Response(render_metrics(request.app.state.db), media_type=CONTENT_TYPE_LATEST)
