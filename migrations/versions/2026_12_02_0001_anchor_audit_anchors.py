"""anchor: the audit chain anchored outside the database; the audit log append-only on PostgreSQL

`audit_anchors`: the chain's head as written, once a day, to the archive store as a
write-once object (`object_sha256`, a stored object of kind "audit_anchor"), each naming the
anchor object before it.

On PostgreSQL a trigger refuses UPDATE and DELETE of any row of `audit_events` and
`audit_anchors`, and TRUNCATE of either table. PostVault itself never changes an audit row:
view events are coalesced by not inserting a second one, disposition scrubs the post's rows
and never the log, restore loads an empty database. Only a session with
`session_replication_role = replica` (a superuser's: the test suite's wipe, or a deliberate
repair that the anchors will then show) passes. SQLite has no such trigger; the anchors are
what detect a rewrite there.

Revision ID: anchor_0001
Revises: records_0007_attempts
Create Date: 2026-12-02 00:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "anchor_0001"
down_revision: str | None = "transfer_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("audit_events", "audit_anchors")


def upgrade() -> None:
    op.create_table(
        "audit_anchors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("anchored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_event_id", sa.Integer(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("object_sha256", sa.String(length=64), nullable=False),
        sa.Column("previous_object_sha256", sa.String(length=64), nullable=True),
        sa.Column("audit_event_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["object_sha256"],
            ["stored_objects.sha256"],
            name=op.f("fk_audit_anchors_object_sha256_stored_objects"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_anchors")),
        sa.UniqueConstraint("object_sha256", name=op.f("uq_audit_anchors_object_sha256")),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION postvault_refuse_audit_change() RETURNS trigger AS $$
        BEGIN
            RAISE EXCEPTION 'the audit log is append-only: % on % is refused', TG_OP,
                TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
        END
        $$ LANGUAGE plpgsql
        """
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION postvault_refuse_audit_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION postvault_refuse_audit_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS postvault_refuse_audit_change()")
    op.drop_table("audit_anchors")
