"""transfer to the archives (batch kind, export package, receipt), review decisions, and
request files (response packages, redacted copies) in destruction batches

Revision ID: transfer_0001
Revises: portal_0001_public_portal
Create Date: 2026-12-02 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "transfer_0001"
down_revision: str | None = "20261202_youtube_quota"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("disposition_batches") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="destruction")
        )
        batch.add_column(sa.Column("package_sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("package_size", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("audit_through", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("receipt_reference", sa.Text(), nullable=True))
        batch.add_column(sa.Column("receipt_received_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("receipt_received_by", sa.Text(), nullable=True))
        batch.add_column(sa.Column("receipt_notes", sa.Text(), nullable=True))
        batch.add_column(sa.Column("receipt_recorded_by_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("receipt_recorded_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.create_foreign_key(
            batch.f("fk_disposition_batches_receipt_recorded_by_id_users"),
            "users",
            ["receipt_recorded_by_id"],
            ["id"],
        )
    op.create_table(
        "disposition_request_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column("series_code", sa.String(length=100), nullable=False),
        sa.Column("whs_notice", sa.String(length=32), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("stub", sa.JSON(), nullable=True),
        sa.Column("destroyed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["disposition_batches.id"],
            name=op.f("fk_disposition_request_items_batch_id_disposition_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["records_requests.id"],
            name=op.f("fk_disposition_request_items_request_id_records_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_disposition_request_items")),
    )
    with op.batch_alter_table("disposition_request_items") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_disposition_request_items_batch_id"), ["batch_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_disposition_request_items_request_id"), ["request_id"], unique=False
        )
    op.create_table(
        "review_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("assignment_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("retain_until", sa.Date(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["flagged_posts.id"],
            name=op.f("fk_review_decisions_post_id_flagged_posts"),
        ),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["retention_assignments.id"],
            name=op.f("fk_review_decisions_assignment_id_retention_assignments"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_review_decisions_decided_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_decisions")),
    )
    with op.batch_alter_table("review_decisions") as batch_op:
        batch_op.create_index(batch_op.f("ix_review_decisions_post_id"), ["post_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_review_decisions_assignment_id"), ["assignment_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("review_decisions") as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_decisions_assignment_id"))
        batch_op.drop_index(batch_op.f("ix_review_decisions_post_id"))
    op.drop_table("review_decisions")
    with op.batch_alter_table("disposition_request_items") as batch_op:
        batch_op.drop_index(batch_op.f("ix_disposition_request_items_request_id"))
        batch_op.drop_index(batch_op.f("ix_disposition_request_items_batch_id"))
    op.drop_table("disposition_request_items")
    with op.batch_alter_table("disposition_batches") as batch:
        batch.drop_constraint(
            batch.f("fk_disposition_batches_receipt_recorded_by_id_users"), type_="foreignkey"
        )
        for column in (
            "receipt_recorded_at",
            "receipt_recorded_by_id",
            "receipt_notes",
            "receipt_received_by",
            "receipt_received_on",
            "receipt_reference",
            "audit_through",
            "package_size",
            "package_sha256",
            "kind",
        ):
            batch.drop_column(column)
