"""Run Alembic migrations from code (`postvault migrate`, `serve` on first start, tests)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from app.config import PROJECT_ROOT, Settings
from app.db import Database


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


def upgrade_to_head(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


def migrated_database(settings: Settings) -> Database:
    """The configured database, brought to the newest schema first (a no-op when it is)."""
    upgrade_to_head(settings.database_url)
    return Database(settings.database_url)
