"""requests: `received_at` is a time (existing dates become the start of that local day, time
not known); letters to the requester (acknowledgment, denial); redactions of any field and of
image regions

Revision ID: letters_0001_received_at
Revises: records_0007_attempts
Create Date: 2026-12-02 00:40:00
"""

import datetime as dt
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

from app.config import get_settings
from app.db import UTCDateTime

revision: str = "letters_0001_received_at"
down_revision: str | None = "portal_0001_public_portal"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().retention_timezone)


def upgrade() -> None:
    with op.batch_alter_table("records_requests") as batch:
        batch.add_column(sa.Column("received_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column(
                "received_time_known", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    # A date said which local day the request arrived, not when: keep the day exact (the
    # business days count from it) as the start of that day in the city's time zone.
    requests = sa.table(
        "records_requests",
        sa.column("id", sa.Integer()),
        sa.column("received_on", sa.Date()),
        sa.column("received_at", UTCDateTime()),
    )
    bind = op.get_bind()
    zone = _zone()
    for row_id, day in bind.execute(sa.select(requests.c.id, requests.c.received_on)).all():
        if isinstance(day, str):  # SQLite without type affinity
            day = dt.date.fromisoformat(day[:10])
        start = dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)
        bind.execute(requests.update().where(requests.c.id == row_id).values(received_at=start))
    with op.batch_alter_table("records_requests") as batch:
        batch.alter_column("received_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.alter_column("received_time_known", server_default=None)
        batch.drop_column("received_on")

    op.create_table(
        "request_letters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["records_requests.id"],
            name=op.f("fk_request_letters_request_id_records_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["sha256"],
            ["stored_objects.sha256"],
            name=op.f("fk_request_letters_sha256_stored_objects"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_request_letters_created_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_letters")),
        sa.UniqueConstraint("request_id", "kind", name=op.f("uq_request_letters_request_id_kind")),
    )
    with op.batch_alter_table("request_letters") as batch:
        batch.create_index(batch.f("ix_request_letters_request_id"), ["request_id"], unique=False)

    with op.batch_alter_table("redactions") as batch:
        batch.add_column(sa.Column("field", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("box", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("redactions") as batch:
        batch.drop_column("box")
        batch.drop_column("field")
    with op.batch_alter_table("request_letters") as batch:
        batch.drop_index(batch.f("ix_request_letters_request_id"))
    op.drop_table("request_letters")
    with op.batch_alter_table("records_requests") as batch:
        batch.add_column(sa.Column("received_on", sa.Date(), nullable=True))
    requests = sa.table(
        "records_requests",
        sa.column("id", sa.Integer()),
        sa.column("received_on", sa.Date()),
        sa.column("received_at", UTCDateTime()),
    )
    bind = op.get_bind()
    zone = _zone()
    for row_id, moment in bind.execute(sa.select(requests.c.id, requests.c.received_at)).all():
        bind.execute(
            requests.update()
            .where(requests.c.id == row_id)
            .values(received_on=moment.astimezone(zone).date())
        )
    with op.batch_alter_table("records_requests") as batch:
        batch.alter_column("received_on", existing_type=sa.Date(), nullable=False)
        batch.drop_column("received_time_known")
        batch.drop_column("received_at")
