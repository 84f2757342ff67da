"""platform bridge: platform_events (idempotency), external ids of consultations and
calculator offers, the tender of a Konzeptrabatt charge

Revision ID: platform_1
Revises: mailin_1
Create Date: 2026-12-01 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types


revision: str = 'platform_1'
down_revision: str | None = 'mailin_1'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('platform_events',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('type', sa.String(length=40), nullable=False),
    sa.Column('http_status', sa.Integer(), nullable=False),
    sa.Column('answer', sa.JSON(), nullable=False),
    sa.Column('received_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_platform_events'))
    )
    with op.batch_alter_table('consultations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_consultations_external_id'), ['external_id']
        )
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('external_id', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f('uq_offers_product_line_id_external_id'), ['product_line_id', 'external_id']
        )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tender_reference', sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_column('tender_reference')
    with op.batch_alter_table('offers', schema=None) as batch_op:
        batch_op.drop_constraint('uq_offers_product_line_id_external_id', type_='unique')
        batch_op.drop_column('external_id')
    with op.batch_alter_table('consultations', schema=None) as batch_op:
        batch_op.drop_constraint('uq_consultations_external_id', type_='unique')
        batch_op.drop_column('external_id')
    op.drop_table('platform_events')
