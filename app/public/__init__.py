"""The public records portal (issue 20): anyone may file a request, follow it with a tracking
link and read what was released, under /public/ when POSTVAULT_PUBLIC_PORTAL is on; and the
officer's panel for it on the request page (messages, fees, the reading room), always.

`install_public(app, settings)` is called by `app.main.create_app` after the web pages.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from jinja2 import ChoiceLoader, FileSystemLoader

from app.config import Settings
from app.web.rendering import templates
from app.web.security import load_secret_key

TEMPLATES = Path(__file__).resolve().parent / "templates"


def _add_templates() -> None:
    """The portal's templates beside the web pages' (they extend the same base)."""
    loader = templates.env.loader
    if isinstance(loader, ChoiceLoader) and any(
        isinstance(inner, FileSystemLoader) and str(TEMPLATES) in inner.searchpath
        for inner in loader.loaders
    ):
        return
    assert loader is not None
    templates.env.loader = ChoiceLoader([loader, FileSystemLoader(TEMPLATES)])


def install_public(app: FastAPI, settings: Settings) -> None:
    from app.public.fees import NO_REDACTION_FEE, WAIVER_RULE, dollars
    from app.public.officer_pages import panel
    from app.public.officer_pages import router as officer_router
    from app.public.pages import router as public_router

    _add_templates()
    templates.env.globals.update(
        PORTAL_NO_REDACTION_FEE=NO_REDACTION_FEE,
        PORTAL_WAIVER_RULE=WAIVER_RULE,
        dollars=dollars,
        # The error page takes the portal's layout on /public/ (app/web/templates/error.html).
        PORTAL_TEMPLATES=("public_base.html",),
    )
    panels = list(getattr(app.state, "request_panels", []))
    app.state.request_panels = [*panels, panel]
    app.include_router(officer_router)
    if settings.public_portal:
        # Keyed hashes of visitors' addresses, for the per-address limits.
        app.state.portal_secret = load_secret_key(settings) + ":public-portal"
        app.include_router(public_router)
