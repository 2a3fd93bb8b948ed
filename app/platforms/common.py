"""What every collector does the same way: turn fetch errors into typed outcomes, read JSON
and timestamps defensively, and never let an exception escape `collect()`."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import httpx

from app.platforms.collected import CollectResult, RateLimited, TransientFailure
from app.platforms.http import (
    FetchRefused,
    ResponseTooLarge,
    UnexpectedContentType,
    describe_url,
)
from app.platforms.ratelimit import HostPaused, RequestStats, TransientHTTPError


class Abort(Exception):
    """Carries a finished outcome out of nested helpers to `run_collect`."""

    def __init__(self, result: CollectResult) -> None:
        super().__init__(result.kind)
        self.result = result


def outcome_for_error(exc: Exception) -> CollectResult:
    if isinstance(exc, Abort):
        return exc.result
    if isinstance(exc, HostPaused):
        return RateLimited(host=exc.host, retry_at=exc.retry_at, reason=str(exc))
    if isinstance(exc, TransientHTTPError):
        return TransientFailure(error=exc.message)
    if isinstance(exc, FetchRefused | ResponseTooLarge | UnexpectedContentType):
        return TransientFailure(error=str(exc))
    if isinstance(exc, httpx.HTTPError):
        return TransientFailure(error=f"HTTP error: {type(exc).__name__}: {exc}")
    # Foreign data in an unexpected shape must not stop the capture pass; the message
    # names the exception so the failing post shows what went wrong.
    return TransientFailure(
        error=f"the collector could not read the answer: {type(exc).__name__}: {exc}"
    )


def run_collect(body: Callable[[RequestStats], CollectResult]) -> CollectResult:
    """Run a collector's body, mapping any exception to an outcome and counting requests."""
    stats = RequestStats()
    try:
        result = body(stats)
    except Exception as exc:  # the contract: outcomes, never exceptions
        result = outcome_for_error(exc)
    result.http_requests = stats.requests
    return result


def json_body(response: httpx.Response, what: str) -> Any:
    """The response's JSON, or Abort with a TransientFailure naming what was malformed."""
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Abort(
            TransientFailure(
                error=f"the {what} answer from {describe_url(response.url)} is not valid "
                f"JSON (HTTP {response.status_code}): {exc}"
            )
        ) from exc


def error_message(body: Any) -> str:
    """The human message in a JSON error answer, if any."""
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, str):
            return error
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return ""


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO-8601 timestamp as an aware datetime (naive ones are UTC), None if unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)
