"""anchor: every version names the capture run that made it

`captured_versions.capture_run_id` → `capture_attempts.id`: the poll (or, for an uploaded
version, the upload's own run row, outcome "uploaded") that made the version.

Existing versions are filled in where the runs tell: a run records the last version it added
(`capture_attempts.version_id`), and the versions one run added (Mastodon's edit history, then
the capture) are numbered just before it, so each capture, history or removal version belongs
to the first run of its post whose recorded version is it or a later one. Existing uploads get
a run row of their own. A version no run names stays NULL.

Revision ID: anchor_0003
Revises: anchor_0002
Create Date: 2026-12-02 01:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "anchor_0003"
down_revision: str | None = "anchor_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("captured_versions") as batch:
        batch.add_column(sa.Column("capture_run_id", sa.Integer(), nullable=True))
        batch.create_index(
            batch.f("ix_captured_versions_capture_run_id"), ["capture_run_id"], unique=False
        )
        batch.create_foreign_key(
            batch.f("fk_captured_versions_capture_run_id_capture_attempts"),
            "capture_attempts",
            ["capture_run_id"],
            ["id"],
        )
    # Uploads made before: a run row each (the upload's time and uploader).
    op.execute(
        """
        INSERT INTO capture_attempts
            (post_id, poll_slot, worker, started_at, finished_at, outcome, version_id,
             http_requests)
        SELECT v.post_id, 'upload:' || v.number, 'upload:user:' || u.uploaded_by_id,
               u.uploaded_at, u.uploaded_at, 'uploaded', v.id, 0
        FROM captured_versions v JOIN version_uploads u ON u.version_id = v.id
        WHERE NOT EXISTS (
            SELECT 1 FROM capture_attempts a
            WHERE a.post_id = v.post_id AND a.poll_slot = 'upload:' || v.number
        )
        """
    )
    op.execute(
        """
        UPDATE captured_versions SET capture_run_id = (
            SELECT a.id FROM capture_attempts a
            WHERE a.post_id = captured_versions.post_id
              AND a.version_id IS NOT NULL
              AND a.version_id >= captured_versions.id
            ORDER BY a.version_id, a.id
            LIMIT 1
        )
        WHERE capture_run_id IS NULL
        """
    )


def downgrade() -> None:
    op.execute("DELETE FROM capture_attempts WHERE outcome = 'uploaded'")
    with op.batch_alter_table("captured_versions") as batch:
        batch.drop_constraint(
            batch.f("fk_captured_versions_capture_run_id_capture_attempts"), type_="foreignkey"
        )
        batch.drop_index(batch.f("ix_captured_versions_capture_run_id"))
        batch.drop_column("capture_run_id")
