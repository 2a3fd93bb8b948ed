"""Pages for evidence beside the captures: replaying a version's WACZ (ReplayWeb.page, from
the static files scripts/install-replay puts there) and uploading a file on a post's page."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from app.db import SessionDep
from app.errors import DomainError, NotFound
from app.http_guards import REPLAY_FRAME_PATH
from app.posts import service as posts_service
from app.posts.models import CapturedVersion, VersionMedia
from app.uploads import service as uploads_service
from app.uploads.router import _spool
from app.web.deps import PageUser, check_csrf
from app.web.rendering import WEB_DIR, render, see_other

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
# Added before the /static mount, which would otherwise answer REPLAY_FRAME_PATH with a 404.
replay_frame_router = APIRouter(include_in_schema=False)
REPLAY_DIR = WEB_DIR / "static" / "replay"
# The replay frame's document: the page ReplayWeb.page's service worker itself serves at its
# replayBase (sw.js `getIndexHtml`: its app element and ui.js beside it). The server answers
# the frame's first load with the same page, so the replay starts whichever answers it: the
# worker once it controls the frame (ReplayWeb.page reloads the frame until it does), or this
# page when the worker claims the frame while it loads.
REPLAY_FRAME_HTML = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Replay</title><script src="ui.js"></script></head>
<body><replay-app-main></replay-app-main></body>
</html>
"""
# What ReplayWeb.page's app needs and no more: its own script, its worker (sw.js, also run as
# a web worker), the API under replayBase and the WACZ download (same origin), the replayed
# page's frames under replayBase, and inline styles from its components.
REPLAY_FRAME_POLICY = (
    "default-src 'self'; script-src 'self'; worker-src 'self'; connect-src 'self' data:; "
    "frame-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "object-src 'none'; base-uri 'self'; form-action 'none'"
)


@replay_frame_router.get(REPLAY_FRAME_PATH)
def replay_frame(request: Request) -> HTMLResponse:
    """ReplayWeb.page's frame when the server answers it (before its service worker controls
    the frame). The only page that may be framed, by this origin only (app/http_guards.py);
    it holds no data (the app inside asks for the WACZ with the officer's cookie), so it
    needs no sign-in. A browser that says it is loading something other than a frame (a tab,
    a link followed) is refused: the replay opens from a post's page."""
    destination = request.headers.get("sec-fetch-dest")
    if destination is not None and destination != "iframe":
        raise NotFound(
            f"{REPLAY_FRAME_PATH} is the frame of the replay page; open the replay from a "
            "post's page (Replay the web archive)"
        )
    return HTMLResponse(
        REPLAY_FRAME_HTML,
        headers={
            "content-security-policy": REPLAY_FRAME_POLICY,
            "cache-control": "no-store",
            "referrer-policy": "same-origin",
        },
    )


def versions_with_wacz(session: Session, post_id: int) -> frozenset[int]:
    """Numbers of the post's versions that have a web archive to replay."""
    return frozenset(
        session.scalars(
            select(CapturedVersion.number)
            .join(VersionMedia, VersionMedia.version_id == CapturedVersion.id)
            .where(CapturedVersion.post_id == post_id, VersionMedia.role == "wacz")
        )
    )


@router.get("/posts/{post_id}/versions/{number}/replay")
def replay_page(
    request: Request, post_id: int, number: int, user: PageUser, session: SessionDep
) -> HTMLResponse:
    """The version's WACZ replayed in the browser, with a link to download it."""
    post = posts_service.get_post(session, viewer=user, post_id=post_id)
    if number not in versions_with_wacz(session, post.id):
        raise NotFound(f"version {number} of post {post_id} has no web archive")
    version = session.scalar(
        select(CapturedVersion).where(
            CapturedVersion.post_id == post.id, CapturedVersion.number == number
        )
    )
    extra = ((version.normalized if version else None) or {}).get("extra") or {}
    page_url = extra.get("final_url") or post.url
    return render(
        request,
        "replay.html",
        user=user,
        post=post,
        number=number,
        page_url=page_url,
        wacz_url=f"/api/v1/posts/{post.id}/versions/{number}/capture.wacz",
        replay_base=REPLAY_FRAME_PATH,
        installed=(REPLAY_DIR / "ui.js").exists() and (REPLAY_DIR / "sw.js").exists(),
    )


@router.post("/posts/{post_id}/uploads")
async def upload_page(
    request: Request,
    post_id: int,
    user: PageUser,
    session: SessionDep,
    file: UploadFile = File(),
    statement: str = Form(default=""),
    kind: str = Form(default=""),
) -> Response:
    """The post page's upload form: the file becomes a new version, or the page says why not."""
    posts_service.get_post(session, viewer=user, post_id=post_id)
    session.commit()
    context = request.app.state.capture_context()
    try:
        with tempfile.TemporaryDirectory(prefix="postvault-upload-") as folder:
            path = await _spool(file, Path(folder), context.settings.upload_max_bytes)
            result = await run_in_threadpool(
                lambda: uploads_service.add_upload(
                    context,
                    uploader_id=user.id,
                    post_id=post_id,
                    path=path,
                    filename=file.filename or "upload",
                    kind=kind or None,
                    statement=statement,
                )
            )
    except DomainError as exc:
        from app.web.router import _post_page

        message = exc.message[:1].upper() + exc.message[1:]
        return _post_page(
            request,
            session,
            user,
            post_id,
            capture_error=f"The file was not added: {message}.",
            status_code=exc.status_code,
        )
    return see_other(f"/posts/{post_id}#version-{result.version_number}")
