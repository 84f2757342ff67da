"""messages: drop `next_delivery_at` and `delivery_attempts`

Since queue_1 a thread message's delivery is scheduled and counted by its row in `queue`;
the message's own lease columns have not been read or written since. `delivery_state` and
`last_delivery_error` stay: the thread shows them. SQLite cannot drop a column that an
index or constraint might name, so the batch mode rebuilds the table there.

Revision ID: messages_lease_1
Revises: platform_1
Create Date: 2026-12-02 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types


revision: str = "messages_lease_1"
down_revision: str | None = "platform_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("next_delivery_at")
        batch_op.drop_column("delivery_attempts")


def downgrade() -> None:
    # The queue holds the attempts now; a downgraded message starts again from none.
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("delivery_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("next_delivery_at", store.types.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.alter_column("delivery_attempts", server_default=None)
