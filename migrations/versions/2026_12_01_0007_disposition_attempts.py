"""disposition attempts: a failed run is `failed` with its error, and each try is kept;
who proposed a batch (separation of duties)

Revision ID: records_0007_attempts
Revises: 20261201_meta_connections
Create Date: 2026-12-01 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "records_0007_attempts"
down_revision: str | None = "20261201_meta_connections"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("disposition_batches") as batch:
        batch.add_column(sa.Column("error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("proposed_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_disposition_batches_proposed_by_id_users"),
            "users",
            ["proposed_by_id"],
            ["id"],
        )
    op.create_table(
        "disposition_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["disposition_batches.id"],
            name=op.f("fk_disposition_attempts_batch_id_disposition_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposition_attempts")),
    )
    with op.batch_alter_table("disposition_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_disposition_attempts_batch_id"), ["batch_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("disposition_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_disposition_attempts_batch_id"))
    op.drop_table("disposition_attempts")
    with op.batch_alter_table("disposition_batches") as batch:
        batch.drop_constraint(
            batch.f("fk_disposition_batches_proposed_by_id_users"), type_="foreignkey"
        )
        batch.drop_column("proposed_by_id")
        batch.drop_column("error")
