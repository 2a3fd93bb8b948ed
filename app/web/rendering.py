"""Templates, and the HTML error page every page-path error ends in (never a stack trace)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from app.auth.models import User
from app.platforms.registry import HANDLE_HELP, PLATFORM_NAMES, registry
from app.web.security import CSRF_FIELD, WebSession
from app.weblinks import web_url

WEB_DIR = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=WEB_DIR / "templates")

ROLE_NAMES = {"employee": "Employee", "records_officer": "Records officer", "admin": "Admin"}
STATUS_NAMES = {
    "waiting": "Waiting for capture",
    "captured": "Captured",
    "edited": "Edited",
    "removed": "Removed",
    "failing": "Capture failing",
    "unavailable": "Unavailable",
    "disposed": "Disposed",
}
STATUS_HINTS = {
    "waiting": "PostVault captures newly flagged posts within a few minutes.",
    "captured": "Kept. PostVault checks it again now and then for edits and removal.",
    "edited": "Edited on the platform after it was captured; every version is kept.",
    "removed": "Gone from the platform; the archive keeps what was captured.",
    "failing": "PostVault keeps trying; a records officer sees this too.",
    "unavailable": "The post is private, needs a token, or its account is gone.",
    "disposed": "Destroyed under its retention schedule, after approval.",
}
KIND_NAMES = {
    "capture": "Captured by PostVault",
    "history": "Earlier edit, from the platform's history",
    "removal": "Removal noticed",
}
LABEL_NAMES = {
    "record": "Record",
    "secondary_copy": "Secondary copy",
    "transitory": "Transitory",
}


def _when(value: dt.datetime | dt.date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).strftime("%-d %b %Y, %H:%M UTC")
    return value.strftime("%-d %b %Y")


def _iso(value: dt.datetime | dt.date | None) -> str:
    return value.isoformat() if value is not None else ""


templates.env.filters["when"] = _when
templates.env.filters["iso"] = _iso
templates.env.filters["web_url"] = web_url
templates.env.globals.update(
    ROLE_NAMES=ROLE_NAMES,
    PLATFORM_NAMES=PLATFORM_NAMES,
    # What links the Flag page and the bookmarklet help say PostVault recognises.
    SUPPORTED_POSTS=registry.supported,
    HANDLE_HELP=HANDLE_HELP,
    STATUS_NAMES=STATUS_NAMES,
    STATUS_HINTS=STATUS_HINTS,
    KIND_NAMES=KIND_NAMES,
    LABEL_NAMES=LABEL_NAMES,
)
templates.env.globals["CSRF_FIELD"] = CSRF_FIELD


def csrf_token(request: Request) -> str:
    session = getattr(request.state, "web_session", None)
    return session.csrf if isinstance(session, WebSession) else ""


def render(
    request: Request,
    name: str,
    *,
    user: User | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"user": user, "csrf_token": csrf_token(request), **context},
        status_code=status_code,
    )


ERROR_TITLES = {
    400: "That request could not be understood",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed",
    409: "That could not be done",
    422: "That could not be done",
    429: "Too many attempts",
    500: "Something went wrong",
    503: "Try again in a moment",
}


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    """An error as a page: a title, one sentence, and a way back. Signed-in or not, it names
    no data the visitor could not already see."""
    title = ERROR_TITLES.get(status_code, "That could not be done")
    signed_in = isinstance(getattr(request.state, "web_user_id", None), int)
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "user": None,
            "signed_in": signed_in,
            "csrf_token": csrf_token(request),
            "title": title,
            "message": message,
            "status_code": status_code,
        },
        status_code=status_code,
    )


def see_other(url: str) -> Response:
    return RedirectResponse(url, status_code=303)
