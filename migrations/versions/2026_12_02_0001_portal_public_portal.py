"""the public portal: tracked portal requests, per-address attempts, messages to requesters,
fee estimates, and items withheld from the reading room

Revision ID: portal_0001_public_portal
Revises: records_0007_attempts
Create Date: 2026-12-02 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "portal_0001_public_portal"
down_revision: str | None = "records_0007_attempts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_requests",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=False),
        sa.Column("address_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["records_requests.id"],
            name=op.f("fk_portal_requests_request_id_records_requests"),
        ),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_portal_requests")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_portal_requests_token_sha256")),
    )
    op.create_index(
        op.f("ix_portal_requests_address_key"), "portal_requests", ["address_key"], unique=False
    )
    op.create_table(
        "portal_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("address_key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_attempts")),
    )
    op.create_index(op.f("ix_portal_attempts_at"), "portal_attempts", ["at"], unique=False)
    op.create_index(
        "ix_portal_attempts_kind_key_at",
        "portal_attempts",
        ["kind", "address_key", "at"],
        unique=False,
    )
    op.create_table(
        "portal_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("emailed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("email_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_portal_messages_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["records_requests.id"],
            name=op.f("fk_portal_messages_request_id_records_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_messages")),
    )
    op.create_index(
        op.f("ix_portal_messages_request_id"), "portal_messages", ["request_id"], unique=False
    )
    op.create_table(
        "fee_estimates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("location_minutes", sa.Integer(), nullable=False),
        sa.Column("mailed", sa.Boolean(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("total_cents", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_by_id", sa.Integer(), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_fee_estimates_created_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["records_requests.id"],
            name=op.f("fk_fee_estimates_request_id_records_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["settled_by_id"], ["users.id"], name=op.f("fk_fee_estimates_settled_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fee_estimates")),
        sa.UniqueConstraint("request_id", name=op.f("uq_fee_estimates_request_id")),
    )
    op.create_table(
        "reading_room_withholdings",
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("withheld_by_id", sa.Integer(), nullable=False),
        sa.Column("withheld_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["request_items.id"],
            name=op.f("fk_reading_room_withholdings_item_id_request_items"),
        ),
        sa.ForeignKeyConstraint(
            ["withheld_by_id"],
            ["users.id"],
            name=op.f("fk_reading_room_withholdings_withheld_by_id_users"),
        ),
        sa.PrimaryKeyConstraint("item_id", name=op.f("pk_reading_room_withholdings")),
    )


def downgrade() -> None:
    op.drop_table("reading_room_withholdings")
    op.drop_table("fee_estimates")
    op.drop_index(op.f("ix_portal_messages_request_id"), table_name="portal_messages")
    op.drop_table("portal_messages")
    op.drop_index("ix_portal_attempts_kind_key_at", table_name="portal_attempts")
    op.drop_index(op.f("ix_portal_attempts_at"), table_name="portal_attempts")
    op.drop_table("portal_attempts")
    op.drop_index(op.f("ix_portal_requests_address_key"), table_name="portal_requests")
    op.drop_table("portal_requests")
