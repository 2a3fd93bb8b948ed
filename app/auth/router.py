from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, status
from sqlalchemy.orm import Session

from app.audit.service import Actor
from app.auth import service
from app.auth.deps import CurrentUser
from app.auth.models import Role, User
from app.auth.schemas import RoleChange, TokenOut, UserCreate, UserCreated, UserOut
from app.bounds import DbId
from app.db import SessionDep
from app.errors import Forbidden, NotFound

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


# Ids are bounded to the column's range, so a huge one is a 422, not a database error.
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]
TokenId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _admin(user: User) -> None:
    if user.role != Role.admin:
        raise Forbidden("only an admin can do this")


def _user(session: Session, user_id: DbId) -> User:
    target = session.get(User, user_id)
    if target is None:
        raise NotFound(f"no user {user_id}")
    return target


@router.post("/users/{user_id}/deactivate", response_model=UserOut)
def deactivate_user(user_id: UserId, user: CurrentUser, session: SessionDep) -> UserOut:
    """Admins only: the user can no longer sign in or use a token; their sessions end."""
    _admin(user)
    target = _user(session, user_id)
    if target.id == user.id:
        raise Forbidden("an admin cannot deactivate themselves; ask another admin")
    service.deactivate_user(session, user=target, actor=Actor.of(user))
    return UserOut.model_validate(target)


@router.put("/users/{user_id}/role", response_model=UserOut)
def change_role(
    user_id: UserId, body: RoleChange, user: CurrentUser, session: SessionDep
) -> UserOut:
    """Admins only: a new role ends the user's web sessions."""
    _admin(user)
    target = _user(session, user_id)
    service.set_role(session, user=target, role=body.role.value, actor=Actor.of(user))
    return UserOut.model_validate(target)


@router.get("/users/{user_id}/tokens", response_model=list[TokenOut])
def list_tokens(user_id: UserId, user: CurrentUser, session: SessionDep) -> list[TokenOut]:
    """A user's API tokens with their last use (admins: anyone's; others: their own)."""
    if user.id != user_id:
        _admin(user)
    target = _user(session, user_id)
    return [TokenOut.model_validate(t) for t in service.list_tokens(session, user=target)]


@router.post("/tokens/{token_id}/revoke", response_model=TokenOut)
def revoke_token(token_id: TokenId, user: CurrentUser, session: SessionDep) -> TokenOut:
    """The token stops working at once (admins: any token; others: their own)."""
    token = service.get_token(session, token_id)
    if token.user_id != user.id:
        if user.role != Role.admin:
            raise NotFound(f"no API token {token_id}")
    service.revoke_token(session, token=token, actor=Actor.of(user))
    return TokenOut.model_validate(token)
