from __future__ import annotations

from fastapi import APIRouter, status

from app.audit.service import Actor
from app.auth import service
from app.auth.deps import CurrentUser
from app.auth.models import Role
from app.auth.schemas import UserCreate, UserCreated, UserOut
from app.db import SessionDep
from app.errors import Forbidden

router = APIRouter(prefix="/api/v1", tags=["users"])


@router.get("/me", response_model=UserOut)
def me(user: CurrentUser) -> UserOut:
    return UserOut.model_validate(user)


@router.post("/users", response_model=UserCreated, status_code=status.HTTP_201_CREATED)
def create_user(body: UserCreate, user: CurrentUser, session: SessionDep) -> UserCreated:
    """Admins create users; the answer carries the new user's first token, once."""
    if user.role != Role.admin:
        raise Forbidden("only an admin can create users")
    created = service.create_user(
        session, email=body.email, name=body.name, role=body.role.value, actor=Actor.of(user)
    )
    token = service.issue_token(session, user=created, actor=Actor.of(user), label="created")
    return UserCreated(**UserOut.model_validate(created).model_dump(), token=token)


@router.get("/users", response_model=list[UserOut])
def list_users(user: CurrentUser, session: SessionDep) -> list[UserOut]:
    if not user.is_officer:
        raise Forbidden("this needs the records_officer or admin role")
    return [UserOut.model_validate(u) for u in service.list_users(session)]
