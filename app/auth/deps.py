"""Request dependencies: who is calling, and may they."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.auth.models import User
from app.auth.service import user_for_token
from app.db import SessionDep
from app.errors import Forbidden, Unauthorized


def current_user(request: Request, session: SessionDep) -> User:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        user = user_for_token(session, token.strip())
        if user is not None:
            return user
        raise Unauthorized("the API token is unknown or revoked")
    web_user = getattr(request.state, "web_user_id", None)
    if isinstance(web_user, int):
        user = session.get(User, web_user)
        if user is not None and user.is_active:
            return user
    raise Unauthorized("sign in or send 'Authorization: Bearer <token>'")


CurrentUser = Annotated[User, Depends(current_user)]


def officer(user: CurrentUser) -> User:
    """Records officers and admins only; employees get a 403 that names no data."""
    if not user.is_officer:
        raise Forbidden("this needs the records_officer or admin role")
    return user


OfficerUser = Annotated[User, Depends(officer)]
