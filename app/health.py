from __future__ import annotations

import os
import shutil
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


def _archive_disk(folder: Path, min_free_mb: int) -> str:
    """ "ok", or "nearly full" / "full" with the free space, so an operator sees it before
    captures and snapshots start failing to write."""
    try:
        usage = shutil.disk_usage(folder)
    except OSError as exc:
        return f"unknown: {exc.strerror or exc}"
    free_mb = usage.free // (1024 * 1024)
    total_mb = usage.total // (1024 * 1024)
    if usage.free == 0:
        return f"full: 0 MB free of {total_mb} MB"
    if free_mb < min_free_mb:
        return f"nearly full: {free_mb} MB free of {total_mb} MB (minimum {min_free_mb} MB)"
    return "ok"


@router.get("/healthz")
def healthz(request: Request) -> JSONResponse:
    """Database reachable, archive folder writable and its disk not (nearly) full (503
    naming what is not), and which scripts have no installed font."""
    database: Database = request.app.state.db
    try:
        with database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        db_state = "ok"
    except Exception as exc:  # any driver error means "not reachable" here
        db_state = f"unreachable: {type(exc).__name__}"
    settings = request.app.state.settings
    archive_state = _archive_writable(settings.archive_dir)
    disk_state = (
        _archive_disk(settings.archive_dir, settings.archive_disk_min_free_mb)
        if archive_state == "ok"
        else "unknown"
    )
    ok = db_state == "ok" and archive_state == "ok" and disk_state == "ok"
    # Missing fonts do not fail the check (captures still work; snapshots list what they
    # could not draw) but are reported: "missing: CJK, emoji".
    fonts = script_report()
    return JSONResponse(
        {
            "status": "ok" if ok else "failing",
            "database": db_state,
            "archive": archive_state,
            "archive_disk": disk_state,
            "fonts": fonts.summary(),
            "fonts_missing": fonts.missing,
        },
        status_code=200 if ok else 503,
    )
