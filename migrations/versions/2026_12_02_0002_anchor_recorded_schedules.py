"""anchor: schedule files as last applied to every post

`retention_schedule_files`: one row per schedule file, with the SHA-256 it had when every
post's assignment was last computed from it (a file that hashes differently is applied to
every post again) and its Public Records Board approval's expiry (a lapsed approval blocks
disposition of the schedule's series).

Revision ID: anchor_0002
Revises: anchor_0001
Create Date: 2026-12-02 01:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "anchor_0002"
down_revision: str | None = "anchor_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "retention_schedule_files",
        sa.Column("schedule_id", sa.String(length=100), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("approval_body", sa.String(length=200), nullable=True),
        sa.Column("approval_reference", sa.String(length=200), nullable=True),
        sa.Column("approval_expires_on", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("schedule_id", name=op.f("pk_retention_schedule_files")),
    )


def downgrade() -> None:
    op.drop_table("retention_schedule_files")
