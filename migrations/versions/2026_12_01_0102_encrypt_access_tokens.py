"""encrypt social_accounts.access_token at rest (Fernet, app/crypto.py)

Widens the column to hold a Fernet token and encrypts every value stored in clear. The key
is the one the app uses (POSTVAULT_SECRETS_KEY or the generated secrets_key file); it is
loaded only when there is something to encrypt. Downgrade decrypts back to clear text.

Revision ID: 20261201_server_secrets
Revises: 20261201_server_sessions
Create Date: 2026-12-01 21:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.crypto import FERNET_PREFIX, current_box, stored_length

revision: str = "20261201_server_secrets"
down_revision: str | None = "20261201_server_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_accounts = sa.table(
    "social_accounts", sa.column("id", sa.Integer), sa.column("access_token", sa.String)
)


def upgrade() -> None:
    with op.batch_alter_table("social_accounts") as batch:
        batch.alter_column(
            "access_token",
            existing_type=sa.String(length=512),
            type_=sa.String(length=stored_length(512)),
            existing_nullable=True,
        )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_accounts.c.id, _accounts.c.access_token).where(
            _accounts.c.access_token.is_not(None)
        )
    ).all()
    clear = [
        (row.id, row.access_token) for row in rows if not row.access_token.startswith(FERNET_PREFIX)
    ]
    if not clear:
        return
    box = current_box()
    for account_id, token in clear:
        conn.execute(
            sa.update(_accounts)
            .where(_accounts.c.id == account_id)
            .values(access_token=box.encrypt(token))
        )


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(_accounts.c.id, _accounts.c.access_token).where(
            _accounts.c.access_token.is_not(None)
        )
    ).all()
    if rows:
        box = current_box()
        for row in rows:
            if row.access_token.startswith(FERNET_PREFIX):
                conn.execute(
                    sa.update(_accounts)
                    .where(_accounts.c.id == row.id)
                    .values(access_token=box.decrypt(row.access_token))
                )
    with op.batch_alter_table("social_accounts") as batch:
        batch.alter_column(
            "access_token",
            existing_type=sa.String(length=stored_length(512)),
            type_=sa.String(length=512),
            existing_nullable=True,
        )
