"""Form posts that a domain rule refuses: roll back and show the page again with the sentence.

    with refusal_of(session, not_found_raises=True) as refused:
        service.do_something(session, ...)
    if (exc := refused.error) is not None:
        return page_again(..., status_code=exc.status_code, errors={"field": sentence(exc.message)})

A 404 (`not_found_raises`) is not a form error: it goes on to the HTML error page.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.orm import Session

from app.audit.service import record_refusal
from app.errors import AuditedRefusal, DomainError


@dataclass
class Refusal:
    error: DomainError | None = None


@contextmanager
def refusal_of(session: Session, *, not_found_raises: bool = False) -> Iterator[Refusal]:
    """Catch a domain error from the block, roll the request's transaction back, and keep the
    error for the caller to show; anything else propagates."""
    refusal = Refusal()
    try:
        yield refusal
    except DomainError as exc:
        if not_found_raises and exc.status_code == 404:
            raise
        session.rollback()
        if isinstance(exc, AuditedRefusal):
            record_refusal(session, exc)  # kept: the page's transaction commits it
        refusal.error = exc
