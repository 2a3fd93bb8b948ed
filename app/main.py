"""create_app(): the FastAPI application with its routers and error mapping."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, OperationalError

from app import __version__
from app.accounts.router import router as accounts_router
from app.audit.router import router as audit_router
from app.auth.router import router as auth_router
from app.config import Settings, get_settings
from app.db import Database
from app.errors import DomainError
from app.health import router as health_router
from app.posts.router import router as posts_router
from app.snapshots.router import router as snapshots_router

log = logging.getLogger("postvault")


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for error in exc.errors():
        loc = [str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path")]
        where = ".".join(loc)
        msg = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            parts.append("the request body is not valid JSON")
        else:
            parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts) or "invalid request"


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    db = database or Database(settings.database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        if database is None:
            db.dispose()

    app = FastAPI(
        title="PostVault",
        version=__version__,
        description="Public-records retention archive for social media posts that city "
        "employees flag as public business.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = db

    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors: list[dict[str, Any]] = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg")), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": _validation_message(exc), "errors": errors}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def _conflict(_request: Request, _exc: IntegrityError) -> JSONResponse:
        # A concurrent change won a uniqueness race; nothing of this request was saved.
        return JSONResponse(
            {
                "detail": "a conflicting change was saved at the same moment; nothing was changed, try again"
            },
            status_code=409,
        )

    @app.exception_handler(OperationalError)
    async def _unavailable(request: Request, _exc: OperationalError) -> JSONResponse:
        log.exception("database unavailable on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"detail": "the database is busy or unreachable; nothing was changed, try again"},
            status_code=503,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, _exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return JSONResponse(
            {"detail": "PostVault hit an unexpected error; it is logged and nothing was changed"},
            status_code=500,
        )

    for router in (
        health_router,
        auth_router,
        accounts_router,
        posts_router,
        audit_router,
        snapshots_router,
    ):
        app.include_router(router)
    return app
