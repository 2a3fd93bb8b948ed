"""The portal on: settings with POSTVAULT_PUBLIC_PORTAL set, and archived posts."""

from __future__ import annotations

import pytest

from app.config import Settings
from tests.snapshots.conftest import archive_post, store

__all__ = ["archive_post", "store"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"public_portal": True})
