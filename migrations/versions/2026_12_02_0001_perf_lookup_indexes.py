"""perf: an index on flagged_posts.url, so that finding the archived primary copy of a
secondary copy by its address is a lookup, not a scan of every post (issue 18)

Revision ID: perf_0001_lookup_indexes
Revises: records_0007_attempts
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "perf_0001_lookup_indexes"
down_revision: str | None = "anchor_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_flagged_posts_url", "flagged_posts", ["url"])


def downgrade() -> None:
    op.drop_index("ix_flagged_posts_url", table_name="flagged_posts")
