"""youtube quota days: the YouTube Data API quota units used per (Pacific) day, shared by
every worker

Revision ID: 20261202_youtube_quota
Revises: portal_0001_public_portal
Create Date: 2026-12-02 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261202_youtube_quota"
down_revision: str | None = "letters_0001_received_at"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "youtube_quota_days",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_youtube_quota_days")),
    )


def downgrade() -> None:
    op.drop_table("youtube_quota_days")
