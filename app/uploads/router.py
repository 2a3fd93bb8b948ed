from __future__ import annotations

import tempfile
from pathlib import Path

from fastapi import APIRouter, File, Form, Request, Response, UploadFile
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from app.auth.deps import CurrentUser
from app.db import SessionDep
from app.posts.service import get_post
from app.storage.deps import StoreDep
from app.uploads import service

router = APIRouter(prefix="/api/v1/posts", tags=["uploads"])
CHUNK = 1024 * 1024


class UploadOut(BaseModel):
    post_id: int
    version_number: int
    kind: str
    sha256: str
    size: int
    mime_type: str
    tool: str | None


async def _spool(upload: UploadFile, folder: Path, max_bytes: int) -> Path:
    """The upload on disk, refused past the cap without reading the rest."""
    path = folder / "upload.bin"
    seen = 0
    with path.open("wb") as out:
        while chunk := await upload.read(CHUNK):
            seen += len(chunk)
            if seen > max_bytes:
                raise service.TooLarge(
                    f"the file is larger than the upload limit of {max_bytes} bytes "
                    "(POSTVAULT_UPLOAD_MAX_BYTES)"
                )
            out.write(chunk)
    return path


@router.post("/{post_id}/uploads", response_model=UploadOut, status_code=201)
async def upload_evidence(
    post_id: int,
    user: CurrentUser,
    session: SessionDep,
    request: Request,
    file: UploadFile = File(
        description="A WACZ, a PDF, a PNG/JPEG screenshot, or the original photo/video."
    ),
    statement: str = Form(description="One line: what the file is and how you made it."),
    kind: str | None = Form(
        default=None, description="wacz, pdf, screenshot or original (default: detected)."
    ),
) -> UploadOut:
    """Add evidence PostVault could not fetch itself as a new version of the post, with who
    uploaded it, when, what made it, and the uploader's statement."""
    get_post(session, viewer=user, post_id=post_id)
    session.commit()
    context = request.app.state.capture_context()
    with tempfile.TemporaryDirectory(prefix="postvault-upload-") as folder:
        path = await _spool(file, Path(folder), context.settings.upload_max_bytes)
        result = await run_in_threadpool(
            lambda: service.add_upload(
                context,
                uploader_id=user.id,
                post_id=post_id,
                path=path,
                filename=file.filename or "upload",
                kind=kind,
                statement=statement,
            )
        )
    return UploadOut(**result.__dict__)


@router.get(
    "/{post_id}/versions/{number}/capture.wacz",
    response_class=Response,
    responses={200: {"content": {"application/wacz": {}}}},
)
def capture_wacz(
    post_id: int, number: int, user: CurrentUser, session: SessionDep, store: StoreDep
) -> Response:
    """The version's WACZ web archive, checked against its SHA-256 before it is sent."""
    sha256, data = service.read_capture_wacz(
        session, store=store, viewer=user, post_id=post_id, number=number
    )
    return Response(
        content=data,
        media_type="application/wacz",
        headers={
            "X-Content-SHA256": sha256,
            "ETag": f'"{sha256}"',
            "Content-Disposition": f'attachment; filename="post-{post_id}-v{number}.wacz"',
            "Cache-Control": "private, no-transform",
        },
    )
