"""The app's archive store as a request dependency (made once per app from its settings)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.storage.base import ArchiveStore
from app.storage.service import store_from_settings


def app_store(request: Request) -> ArchiveStore:
    store: ArchiveStore | None = getattr(request.app.state, "store", None)
    if store is None:
        store = store_from_settings(request.app.state.settings)
        request.app.state.store = store
    return store


StoreDep = Annotated[ArchiveStore, Depends(app_store)]
