from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from app.auth.deps import OfficerUser
from app.db import SessionDep
from app.open_records import search as search_service
from app.open_records.schemas import SearchPage, SearchQuery

router = APIRouter(prefix="/api/v1", tags=["open records"])


@router.get("/search", response_model=SearchPage)
def search(
    query: Annotated[SearchQuery, Query()], user: OfficerUser, session: SessionDep
) -> SearchPage:
    """Full-text search over every archived version (records officers only).

    `q`: plain words all match, "quoted phrases", `a OR b`, `-word` excludes. Each hit is one
    version; `snippet` is HTML-escaped text with the matched words in `<mark>`.
    """
    return search_service.search(session, query=query, viewer=user)
