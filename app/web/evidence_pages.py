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
from app.posts import service as posts_service
from app.posts.models import CapturedVersion, VersionMedia
from app.uploads import service as uploads_service
from app.uploads.router import _spool
from app.web.deps import PageUser, check_csrf
from app.web.rendering import WEB_DIR, render, see_other

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)
REPLAY_DIR = WEB_DIR / "static" / "replay"


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
