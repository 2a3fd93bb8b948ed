"""evidence: characters a snapshot could not draw, and trusted timestamps

`snapshots.missing_glyph_count` / `missing_glyphs`: the characters no installed font covered
when the snapshot was rendered (NULL for snapshots made before PostVault checked), so
`postvault snapshots rerender --missing-glyphs` can find them once fonts are installed.

`timestamp_tokens`: one RFC 3161 timestamp per stored object (snapshots, and any other kind
that asks), pending until the TSA answers with a valid token; the token itself is a stored
object of kind "timestamp" (`token_sha256`).

Revision ID: e12a0001
Revises: jobs_0006_leases
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e12a0001"
down_revision: str | None = "jobs_0006_leases"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("snapshots") as batch:
        batch.add_column(sa.Column("missing_glyph_count", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("missing_glyphs", sa.JSON(), nullable=True))

    op.create_table(
        "timestamp_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("object_sha256", sa.String(length=64), nullable=False),
        sa.Column("object_kind", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("tsa_url", sa.String(length=2048), nullable=False),
        sa.Column("token_sha256", sa.String(length=64), nullable=True),
        sa.Column("gen_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("serial_number", sa.String(length=64), nullable=True),
        sa.Column("policy", sa.String(length=128), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=1000), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stamped_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["object_sha256"],
            ["stored_objects.sha256"],
            name=op.f("fk_timestamp_tokens_object_sha256_stored_objects"),
        ),
        sa.ForeignKeyConstraint(
            ["token_sha256"],
            ["stored_objects.sha256"],
            name=op.f("fk_timestamp_tokens_token_sha256_stored_objects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timestamp_tokens")),
    )
    with op.batch_alter_table("timestamp_tokens") as batch:
        batch.create_index(
            batch.f("ix_timestamp_tokens_object_sha256"), ["object_sha256"], unique=True
        )


def downgrade() -> None:
    op.drop_table("timestamp_tokens")
    with op.batch_alter_table("snapshots") as batch:
        batch.drop_column("missing_glyphs")
        batch.drop_column("missing_glyph_count")
