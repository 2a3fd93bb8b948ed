from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query, Request, Response, status

from app.auth.deps import CurrentUser
from app.bounds import DB_INT_MAX, DbId
from app.db import SessionDep
from app.platforms.fetcher import Fetcher
from app.platforms.openapi import PLATFORM_ENUM_MARK
from app.platforms.registry import registry
from app.posts import service
from app.posts.models import PostStatus
from app.posts.schemas import PostCreate, PostDetail, PostOut, PostPage

router = APIRouter(prefix="/api/v1/posts", tags=["posts"])


@router.post("", response_model=PostOut, status_code=status.HTTP_201_CREATED)
def flag_post(
    body: PostCreate, user: CurrentUser, session: SessionDep, response: Response, request: Request
) -> PostOut:
    """Flag a post as public business. Flagging it again returns the existing post (200)."""
    post, created = service.flag_post(
        session,
        user=user,
        url=body.url,
        note=body.note,
        account_id=body.account_id,
        fetcher=Fetcher.from_settings(request.app.state.settings),
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return PostOut.model_validate(post)


@router.get("", response_model=PostPage)
def list_posts(
    user: CurrentUser,
    session: SessionDep,
    account_id: DbId | None = None,
    platform: str | None = Query(default=None, json_schema_extra=PLATFORM_ENUM_MARK),
    status_: PostStatus | None = Query(default=None, alias="status"),
    flagged_from: dt.datetime | None = None,
    flagged_to: dt.datetime | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=DB_INT_MAX),
) -> PostPage:
    if platform is not None:
        registry.require(platform)  # an unknown one is a 422 naming the known platforms
    filters = service.PostFilters(
        account_id=account_id,
        platform=platform,
        status=status_.value if status_ else None,
        flagged_from=_aware(flagged_from),
        flagged_to=_aware(flagged_to),
    )
    posts, total = service.list_posts(
        session, viewer=user, filters=filters, limit=limit, offset=offset
    )
    return PostPage(
        items=[PostOut.model_validate(p) for p in posts], total=total, limit=limit, offset=offset
    )


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    # A date-time without a zone in a query string is taken as UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value


@router.get("/{post_id}", response_model=PostDetail)
def get_post(post_id: DbId, user: CurrentUser, session: SessionDep) -> PostDetail:
    return service.post_detail(session, viewer=user, post_id=post_id)
