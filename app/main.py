"""create_app(): the FastAPI application with its routers and error mapping."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, StatementError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from app import __version__
from app.accounts.router import router as accounts_router
from app.anchors.router import router as anchors_router
from app.audit.router import router as audit_router
from app.audit.service import record_refusal
from app.auth.router import router as auth_router
from app.classification.config import CONFIG_FILE_NAME, load_classifier_config
from app.classification.router import router as classification_router
from app.collectors.router import router as captures_router
from app.collectors.service import CaptureContext
from app.config import Settings, get_settings
from app.crypto import install_secrets_key
from app.db import Database, DatabaseBusy
from app.docs import install_docs
from app.errors import AuditedRefusal, DomainError
from app.health import router as health_router
from app.http_guards import InputGuardMiddleware, SecurityHeadersMiddleware
from app.lifecycle import BackgroundJobs, Lifecycle
from app.notices.router import router as notices_router
from app.observability.logs import RequestIdMiddleware
from app.observability.metrics import router as metrics_router
from app.open_records.router import router as open_records_router
from app.openapi import install_openapi
from app.pipeline import build_capture_context, label_changed_hooks
from app.platforms.openapi import install_platform_enum
from app.posts.router import router as posts_router
from app.public import install_public
from app.retention.calendar import local_today
from app.retention.router import router as retention_router
from app.retention.router_transfer import router as transfer_router
from app.retention.schedules import load_schedules
from app.snapshots.fonts import check_fonts_at_startup
from app.snapshots.router import router as snapshots_router
from app.storage.service import remove_stale_temporary_files
from app.uploads.router import router as uploads_router
from app.web import install_web
from app.web.deps import SignInRequired, login_url
from app.web.middleware import is_page_path
from app.web.rendering import error_page, see_other
from app.worker import start_scheduler, stop_gracefully

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


def _record_refusal(database: Database, refusal: AuditedRefusal) -> None:
    with database.session() as session:
        record_refusal(session, refusal)


def create_app(settings: Settings | None = None, *, database: Database | None = None) -> FastAPI:
    settings = settings or get_settings()
    install_secrets_key(settings)
    db = database or Database(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        wait_seconds=settings.db_wait_seconds,
    )

    capture_context: list[CaptureContext] = []

    def get_capture_context() -> CaptureContext:
        # Built on first use: it opens an HTTP client and the archive store.
        if not capture_context:
            context = build_capture_context(db, settings)
            context.stop = lifecycle.stop
            capture_context.append(context)
        return capture_context[0]

    lifecycle = Lifecycle()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        check_fonts_at_startup()  # logs the scripts no installed font covers
        remove_stale_temporary_files(settings)  # what a killed process was writing
        scheduler = None
        if settings.run_scheduler:
            scheduler = start_scheduler(db, settings, app.state.capture_context(), lifecycle)
        try:
            yield
        finally:
            # Stop claiming at once, give work in flight the grace, leave the rest to its
            # lease. An app given its database (tests) shares the process's render pool
            # with the apps after it, so only an app owning its process stops the pool.
            background.shutdown()
            app.state.left_running = stop_gracefully(
                lifecycle, settings, scheduler, stop_pools=database is None
            )
            if capture_context:
                capture_context[0].client.close()
            if database is None:
                db.dispose()

    app = FastAPI(
        title="PostVault",
        version=__version__,
        description="Public-records retention archive for social media posts that city "
        "employees flag as public business.",
        lifespan=lifespan,
        # Served by app/docs.py with local assets under a CSP, not from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app, title="PostVault")
    app.state.settings = settings
    app.state.db = db
    app.state.capture_context = get_capture_context
    # Long jobs started from the API (response packages) run here, one at a time, so the
    # request answers at once and the job's progress is read from the database.
    background = BackgroundJobs(lifecycle)
    app.state.run_in_background = background.submit
    app.state.stopping = lifecycle.stop
    app.state.lifecycle = lifecycle
    # Validated at start-up: a mistake in the file stops the app with one line naming it.
    app.state.classifier_config = load_classifier_config(settings.schedules_dir / CONFIG_FILE_NAME)
    app.state.schedules = load_schedules(settings.schedules_dir)
    # A lapsed approval does not stop the app: it blocks its series' disposition, said here,
    # on the dashboard, in the officers' notices and by every refused proposal.
    for notice in app.state.schedules.approval_notices(local_today(settings.retention_timezone)):
        (log.error if notice.expired else log.warning)("%s", notice.message)
    # Passed to whatever changes a label (the classification routes, the capture context):
    # no process-global list is filled, so two apps in one process keep their own settings.
    app.state.on_label_changed = label_changed_hooks(settings)

    # Web pages get every error as an HTML page with one sentence; the API gets JSON.
    def _page(request: Request) -> bool:
        return is_page_path(request.url.path)

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> Response:
        if isinstance(exc, AuditedRefusal):
            # The request's transaction is rolled back; the refused attempt is kept apart.
            await run_in_threadpool(_record_refusal, db, exc)
        if _page(request):
            return error_page(request, exc.status_code, exc.message[:1].upper() + exc.message[1:])
        body: dict[str, Any] = {"detail": exc.message}
        if exc.status_code == 422:
            # Every 422 has the documented shape, also when a service found the problem.
            body["errors"] = [{"loc": [], "msg": exc.message, "type": "value_error"}]
        return JSONResponse(body, status_code=exc.status_code)

    @app.exception_handler(SignInRequired)
    async def _sign_in(_request: Request, exc: SignInRequired) -> Response:
        return see_other(login_url(exc.next_path))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _page(request):
            message = {
                404: "There is no page at this address.",
                405: "This address does not take that kind of request.",
            }.get(exc.status_code, str(exc.detail))
            return error_page(request, exc.status_code, message)
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        if _page(request):
            return error_page(
                request,
                422,
                f"Part of this address or form is not valid: {_validation_message(exc)}.",
            )
        errors: list[dict[str, Any]] = [
            {"loc": list(e.get("loc", ())), "msg": str(e.get("msg")), "type": e.get("type")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": _validation_message(exc), "errors": errors}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def _conflict(request: Request, _exc: IntegrityError) -> Response:
        # A concurrent change won a uniqueness race; nothing of this request was saved.
        message = (
            "a conflicting change was saved at the same moment; nothing was changed, try again"
        )
        if _page(request):
            return error_page(request, 409, message[:1].upper() + message[1:] + ".")
        return JSONResponse({"detail": message}, status_code=409)

    def _busy(request: Request, message: str) -> Response:
        headers = {"Retry-After": str(DatabaseBusy.retry_after_seconds)}
        if _page(request):
            page = error_page(request, 503, message[:1].upper() + message[1:] + ".")
            page.headers.update(headers)
            return page
        return JSONResponse({"detail": message}, status_code=503, headers=headers)

    @app.exception_handler(DatabaseBusy)
    async def _no_slot(request: Request, exc: DatabaseBusy) -> Response:
        log.warning("no database connection free for %s %s", request.method, request.url.path)
        return _busy(request, exc.message)

    @app.exception_handler(PoolTimeout)
    async def _pool_exhausted(request: Request, _exc: PoolTimeout) -> Response:
        log.warning("database pool exhausted on %s %s", request.method, request.url.path)
        return _busy(request, DatabaseBusy().message)

    @app.exception_handler(OperationalError)
    async def _unavailable(request: Request, _exc: OperationalError) -> Response:
        log.exception("database unavailable on %s %s", request.method, request.url.path)
        return _busy(request, "the database is busy or unreachable; nothing was changed, try again")

    def _unstorable(request: Request) -> Response:
        # A value the schemas let through but the database cannot store (a number beyond
        # its integer range, a character it refuses): nothing was saved.
        message = (
            "a value in the request is out of range or holds a character that cannot be "
            "stored; nothing was changed"
        )
        if _page(request):
            return error_page(request, 422, message[:1].upper() + message[1:] + ".")
        return JSONResponse(
            {"detail": message, "errors": [{"loc": [], "msg": message, "type": "value_error"}]},
            status_code=422,
        )

    @app.exception_handler(DataError)
    async def _data_error(request: Request, _exc: DataError) -> Response:
        log.warning("unstorable value on %s %s", request.method, request.url.path)
        return _unstorable(request)

    @app.exception_handler(OverflowError)
    async def _overflow(request: Request, _exc: OverflowError) -> Response:
        log.warning("number out of range on %s %s", request.method, request.url.path)
        return _unstorable(request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        if isinstance(exc, StatementError) and isinstance(exc.orig, OverflowError | ValueError):
            return _unstorable(request)
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        message = "PostVault hit an unexpected error; it is logged and nothing was changed"
        if _page(request):
            return error_page(request, 500, message + ".")
        return JSONResponse({"detail": message}, status_code=500)

    for router in (
        health_router,
        metrics_router,
        notices_router,
        auth_router,
        accounts_router,
        posts_router,
        captures_router,
        audit_router,
        anchors_router,
        classification_router,
        open_records_router,
        retention_router,
        transfer_router,
        snapshots_router,
        uploads_router,
    ):
        app.include_router(router)
    install_web(app, settings, db)
    install_public(app, settings)
    install_openapi(app)
    install_platform_enum(app)  # after: it fills the platform enum into the honest document
    # Outermost last: the headers go on every answer, the guard's 422 included, and every
    # log line of the request carries its id.
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(RequestIdMiddleware)
    return app
