"""Server-rendered pages for employees, records officers and admins (Jinja2, no JS needed).

`install_web(app, settings, database)` adds the session middleware, the stylesheet and icons
under /static and the pages' router; `app.main.create_app` calls it.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.config import Settings
from app.db import Database
from app.web.connection_pages import router as connection_pages
from app.web.evidence_pages import replay_frame_router
from app.web.evidence_pages import router as evidence_pages
from app.web.middleware import WebSessionMiddleware
from app.web.notice_pages import router as notice_pages
from app.web.rendering import WEB_DIR
from app.web.request_pages import router as request_pages
from app.web.router import router
from app.web.security import SessionCodec, load_secret_key
from app.web.sso_pages import router as sso_pages


def install_web(app: FastAPI, settings: Settings, database: Database) -> None:
    codec = SessionCodec(
        load_secret_key(settings), max_age_seconds=settings.session_max_age_hours * 3600
    )
    app.add_middleware(
        WebSessionMiddleware,
        codec=codec,
        database=database,
        secure_cookies=settings.public_url_is_https,
    )
    app.include_router(replay_frame_router)  # its one path is under /static: first
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.include_router(router)
    app.include_router(sso_pages)
    app.include_router(request_pages)
    app.include_router(connection_pages)
    app.include_router(notice_pages)
    app.include_router(evidence_pages)
