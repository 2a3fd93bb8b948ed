from __future__ import annotations

import os
import tempfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app.db import Database
from app.snapshots.fonts import script_report

router = APIRouter(tags=["health"])


def _archive_writable(folder: Path) -> str:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".healthz-", dir=folder)
        os.close(fd)
        os.unlink(name)
        return "ok"
    except OSError as exc:
        return f"not writable: {exc.strerror or exc}"


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    """Database reachable and archive folder writable (503 naming what is not), and which
    scripts have no installed font."""
    database: Database = request.app.state.db
    try:
        with database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        db_state = "ok"
    except Exception as exc:  # any driver error means "not reachable" here
        db_state = f"unreachable: {type(exc).__name__}"
    archive_state = _archive_writable(request.app.state.settings.archive_dir)
    ok = db_state == "ok" and archive_state == "ok"
    # Missing fonts do not fail the check (captures still work; snapshots list what they
    # could not draw) but are reported: "missing: CJK, emoji".
    fonts = script_report()
    return JSONResponse(
        {
            "status": "ok" if ok else "failing",
            "database": db_state,
            "archive": archive_state,
            "fonts": fonts.summary(),
            "fonts_missing": fonts.missing,
        },
        status_code=200 if ok else 503,
    )
