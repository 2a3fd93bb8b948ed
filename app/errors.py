"""Domain errors that routes map to HTTP: each carries a message fit to show a person."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(DomainError):
    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    status_code = 409


class Invalid(DomainError):
    status_code = 422


class Unauthorized(DomainError):
    status_code = 401


class TooManyRequests(DomainError):
    status_code = 429


class AuditedRefusal(Conflict):
    """A refusal the audit log keeps. The request's transaction is rolled back, so whoever
    answers the error records the event in a transaction of its own (app.main's handler,
    app.web.forms.refusal_of) with app.audit.service.record_refusal."""

    def __init__(
        self,
        message: str,
        *,
        actor_id: int | None,
        actor: str,
        action: str,
        object_type: str,
        object_id: object,
        details: dict[str, object],
    ) -> None:
        super().__init__(message)
        self.actor_id = actor_id
        self.actor = actor
        self.action = action
        self.object_type = object_type
        self.object_id = object_id
        self.details = details
