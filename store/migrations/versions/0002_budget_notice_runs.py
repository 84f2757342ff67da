"""budget notices queued in batches after the distribution; tenders.selected_offer_id FK

0001 declared the selected offer's foreign key with use_alter (tenders and offers point at
each other), and create_table leaves such a key out on PostgreSQL; SQLite got it inline.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import store.types


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('budget_notice_runs',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last_ledger_id', sa.Integer(), nullable=False),
    sa.Column('queued_through', sa.Integer(), nullable=False),
    sa.Column('created_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_budget_notice_runs'))
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.create_foreign_key(
            'fk_tenders_selected_offer_id_offers', 'tenders', 'offers',
            ['selected_offer_id'], ['id'],
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint('fk_tenders_selected_offer_id_offers', 'tenders', type_='foreignkey')
    op.drop_table('budget_notice_runs')
