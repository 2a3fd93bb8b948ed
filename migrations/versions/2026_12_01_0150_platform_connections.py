"""platform connections: OAuth grants (Meta) with encrypted tokens, connect attempts, and the
social account's link to the grant that captures it

Revision ID: 20261201_meta_connections
Revises: web_0001
Create Date: 2026-12-01 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "20261201_meta_connections"
down_revision: str | None = "web_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKEN = 11020  # app.crypto.stored_length(2048): a Fernet token of a 2048-character secret
VERIFIER = 2828  # stored_length(512)


def upgrade() -> None:
    op.create_table(
        "platform_connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("external_user_id", sa.String(length=64), nullable=True),
        sa.Column("display_name", sa.String(length=255), nullable=True),
        sa.Column("access_token", sa.String(length=TOKEN), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=1024), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_platform_connections_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_connections")),
    )
    op.create_index(op.f("ix_platform_connections_owner_id"), "platform_connections", ["owner_id"])
    op.create_table(
        "connect_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("code_verifier", sa.String(length=VERIFIER), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_connect_attempts_owner_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_connect_attempts")),
        sa.UniqueConstraint("state_hash", name=op.f("uq_connect_attempts_state_hash")),
    )
    op.create_index(op.f("ix_connect_attempts_owner_id"), "connect_attempts", ["owner_id"])
    with op.batch_alter_table("social_accounts") as batch:
        batch.add_column(sa.Column("connection_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_social_accounts_connection_id_platform_connections"),
            "platform_connections",
            ["connection_id"],
            ["id"],
        )
        batch.create_index(batch.f("ix_social_accounts_connection_id"), ["connection_id"])


def downgrade() -> None:
    with op.batch_alter_table("social_accounts") as batch:
        batch.drop_index(batch.f("ix_social_accounts_connection_id"))
        batch.drop_constraint(
            batch.f("fk_social_accounts_connection_id_platform_connections"), type_="foreignkey"
        )
        batch.drop_column("connection_id")
    op.drop_index(op.f("ix_connect_attempts_owner_id"), table_name="connect_attempts")
    op.drop_table("connect_attempts")
    op.drop_index(op.f("ix_platform_connections_owner_id"), table_name="platform_connections")
    op.drop_table("platform_connections")
