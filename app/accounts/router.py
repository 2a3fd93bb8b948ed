from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from app.accounts import service
from app.accounts.schemas import AccountCreate, AccountOut
from app.auth.deps import CurrentUser
from app.bounds import DbId
from app.db import SessionDep
from app.platforms.fetcher import Fetcher

router = APIRouter(prefix="/api/v1/accounts", tags=["accounts"])


@router.post("", response_model=AccountOut, status_code=status.HTTP_201_CREATED)
def register_account(
    body: AccountCreate,
    user: CurrentUser,
    session: SessionDep,
    request: Request,
    response: Response,
) -> AccountOut:
    account, created = service.register_account(
        session,
        owner=user,
        platform=body.platform,
        handle=body.handle,
        profile_url=body.profile_url,
        access_token=body.access_token,
        fetcher=Fetcher.from_settings(request.app.state.settings),
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return AccountOut.model_validate(account)


@router.get("", response_model=list[AccountOut])
def list_accounts(user: CurrentUser, session: SessionDep) -> list[AccountOut]:
    return [AccountOut.model_validate(a) for a in service.list_accounts(session, viewer=user)]


@router.delete("/{account_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_account(account_id: DbId, user: CurrentUser, session: SessionDep) -> None:
    service.remove_account(session, viewer=user, account_id=account_id)
