"""messages.via: a message that did not come from Slack says how it came (e-mail replies)

Revision ID: mailin_1
Revises: queue_1
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = 'mailin_1'
down_revision: str | None = 'queue_1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('messages', sa.Column('via', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('via')
