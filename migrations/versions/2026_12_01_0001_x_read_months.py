"""x read months: the X API's monthly read budget, shared by every worker

Revision ID: 20261201_x_reads
Revises: e12a0001
Create Date: 2026-12-01 21:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261201_x_reads"
down_revision: str | None = "e12a0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "x_read_months",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("reads_used", sa.Integer(), nullable=False),
        sa.Column("first_capture_reads", sa.Integer(), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.Column("polls_deferred", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_x_read_months")),
    )


def downgrade() -> None:
    op.drop_table("x_read_months")
