"""content fingerprints: the cross-post index (exact hash and MinHash LSH band keys)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 03:10:25.210554
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "content_fingerprints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("post_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("account_handle", sa.String(length=512), nullable=False),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("algorithm", sa.String(length=32), nullable=False),
        sa.Column("exact_hash", sa.String(length=64), nullable=True),
        sa.Column("normalized_text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["social_accounts.id"],
            name=op.f("fk_content_fingerprints_account_id_social_accounts"),
        ),
        sa.ForeignKeyConstraint(
            ["post_id"],
            ["flagged_posts.id"],
            name=op.f("fk_content_fingerprints_post_id_flagged_posts"),
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["captured_versions.id"],
            name=op.f("fk_content_fingerprints_version_id_captured_versions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_fingerprints")),
        sa.UniqueConstraint("version_id", name=op.f("uq_content_fingerprints_version_id")),
    )
    with op.batch_alter_table("content_fingerprints", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_content_fingerprints_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_content_fingerprints_exact_hash"), ["exact_hash"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_content_fingerprints_post_id"), ["post_id"], unique=False
        )

    op.create_table(
        "content_fingerprint_bands",
        sa.Column("band_key", sa.String(length=32), nullable=False),
        sa.Column("fingerprint_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["fingerprint_id"],
            ["content_fingerprints.id"],
            name=op.f("fk_content_fingerprint_bands_fingerprint_id_content_fingerprints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "band_key", "fingerprint_id", name=op.f("pk_content_fingerprint_bands")
        ),
    )
    with op.batch_alter_table("content_fingerprint_bands", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_content_fingerprint_bands_fingerprint_id"),
            ["fingerprint_id"],
            unique=False,
        )


def downgrade() -> None:

    with op.batch_alter_table("content_fingerprint_bands", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_fingerprint_bands_fingerprint_id"))

    op.drop_table("content_fingerprint_bands")
    with op.batch_alter_table("content_fingerprints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_content_fingerprints_post_id"))
        batch_op.drop_index(batch_op.f("ix_content_fingerprints_exact_hash"))
        batch_op.drop_index(batch_op.f("ix_content_fingerprints_account_id"))

    op.drop_table("content_fingerprints")
