"""A label change's hooks travel with the capture context and the app, not a global list."""

from __future__ import annotations

from app.classification import service as classification_service
from app.config import Settings
from app.db import Database
from app.main import create_app
from app.pipeline import build_capture_context


def test_the_capture_context_and_the_app_carry_the_retention_hook(
    settings: Settings, db: Database
) -> None:
    before = list(classification_service.ON_LABEL_CHANGED)
    app = create_app(settings, database=db)
    assert [h.__name__ for h in app.state.on_label_changed] == ["recompute_retention"]
    ctx = build_capture_context(db, settings, collectors={})
    try:
        assert [h.__name__ for h in ctx.on_label_changed] == ["recompute_retention"]
    finally:
        ctx.client.close()
    # Building an app or a capture context adds nothing to the process-wide fallback list.
    assert classification_service.ON_LABEL_CHANGED == before
