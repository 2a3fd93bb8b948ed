"""version uploads: provenance of evidence files people hand over (WACZ, PDF, screenshot)

Revision ID: web_0001
Revises: 20261201_x_reads
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "web_0001"
down_revision: str | None = "20261201_x_reads"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "version_uploads",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_by_id", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mime_type", sa.String(length=128), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=True),
        sa.Column("tool", sa.String(length=255), nullable=True),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["captured_versions.id"],
            name=op.f("fk_version_uploads_version_id_captured_versions"),
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"], ["users.id"], name=op.f("fk_version_uploads_uploaded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["stored_objects.sha256"],
            name=op.f("fk_version_uploads_sha256_stored_objects"),
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_version_uploads")),
    )
    op.create_index(
        op.f("ix_version_uploads_uploaded_by_id"), "version_uploads", ["uploaded_by_id"]
    )
    op.create_index(op.f("ix_version_uploads_sha256"), "version_uploads", ["sha256"])


def downgrade() -> None:
    op.drop_index(op.f("ix_version_uploads_sha256"), table_name="version_uploads")
    op.drop_index(op.f("ix_version_uploads_uploaded_by_id"), table_name="version_uploads")
    op.drop_table("version_uploads")
