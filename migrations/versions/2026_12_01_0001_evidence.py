"""evidence: characters a snapshot could not draw

`snapshots.missing_glyph_count` / `missing_glyphs`: the characters no installed font covered
when the snapshot was rendered (NULL for snapshots made before PostVault checked), so
`postvault snapshots rerender --missing-glyphs` can find them once fonts are installed.

Revision ID: e12a0001
Revises: 0005
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e12a0001"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("snapshots") as batch:
        batch.add_column(sa.Column("missing_glyph_count", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("missing_glyphs", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("snapshots") as batch:
        batch.drop_column("missing_glyphs")
        batch.drop_column("missing_glyph_count")
