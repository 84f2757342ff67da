"""one queue for every side effect: the outbox's rows move into `queue`

The outbox becomes the queue of every outgoing side effect (e-mails, Slack notices, cards,
thread posts). Its rows move over unchanged (`channel` becomes `kind`); `ordering_key` keeps
a thread's posts in order and `lease_owner` fences a claim against a later one. Thread
messages still waiting for Slack get their row; the messages' own lease columns
(`next_delivery_at`, `delivery_attempts`) are no longer read.

Revision ID: queue_1
Revises: 0002
Create Date: 2026-12-01 21:00:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import store.types


revision: str = 'queue_1'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COMMON = (
    'recipient, template, context, message_id, dedupe_key, status, attempts, '
    'next_attempt_at, lease_until, last_error, sent_at, created_at'
)


def upgrade() -> None:
    op.create_table('queue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('dedupe_key', sa.String(length=255), nullable=True),
    sa.Column('ordering_key', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=64), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_queue')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_queue_dedupe_key')),
    sa.UniqueConstraint('message_id', name=op.f('uq_queue_message_id'))
    )
    with op.batch_alter_table('queue', schema=None) as batch_op:
        batch_op.create_index('ix_queue_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)
        batch_op.create_index('ix_queue_ordering_key_status', ['ordering_key', 'status'], unique=False)
        batch_op.create_index('ix_queue_lease_owner', ['lease_owner'], unique=False)
    # Same ids, so an operator's note "outbox row 17" still finds its row.
    op.execute(
        f'INSERT INTO queue (id, kind, {COMMON}) SELECT id, channel, {COMMON} FROM outbox'
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "SELECT setval(pg_get_serial_sequence('queue', 'id'), "
            "COALESCE((SELECT MAX(id) FROM queue), 0) + 1, false)"
        )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_status_next_attempt_at')
    op.drop_table('outbox')
    _queue_pending_thread_messages()


def _queue_pending_thread_messages() -> None:
    """Thread messages Slack does not show yet get their queue row, in the order written."""
    pending = op.get_bind().execute(sa.text(
        "SELECT m.id, c.tender_id, m.role, m.internal FROM messages AS m "
        "JOIN conversations AS c ON c.id = m.conversation_id "
        "WHERE m.delivery_state = 'pending' ORDER BY m.id"
    )).all()
    if not pending:
        return
    queue = sa.table(
        'queue',
        sa.column('kind', sa.String()),
        sa.column('recipient', sa.String()),
        sa.column('template', sa.String()),
        sa.column('context', sa.JSON()),
        sa.column('message_id', sa.String()),
        sa.column('ordering_key', sa.String()),
        sa.column('status', sa.String()),
        sa.column('attempts', sa.Integer()),
        sa.column('next_attempt_at', store.types.UTCDateTime(timezone=True)),
        sa.column('created_at', store.types.UTCDateTime(timezone=True)),
    )
    now = datetime.now(UTC)
    rows = []
    for message_id, tender_id, role, internal in pending:
        side = 'broker' if role == 'backoffice' and not internal else 'backoffice'
        rows.append({
            'kind': 'thread',
            'recipient': f'message:{message_id}',
            'template': 'sync_message',
            'context': {'message_id': message_id},
            'message_id': f'<{uuid.uuid4().hex}@tenderbot>',
            'ordering_key': f'tender:{tender_id}:{side}',
            'status': 'pending',
            'attempts': 0,
            'next_attempt_at': now,
            'created_at': now,
        })
    op.bulk_insert(queue, rows)


def downgrade() -> None:
    op.create_table('outbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=False),
    sa.Column('dedupe_key', sa.String(length=255), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('sent_at', store.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', store.types.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_outbox_dedupe_key')),
    sa.UniqueConstraint('message_id', name=op.f('uq_outbox_message_id'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)
    # Only what the outbox knew how to send goes back; Slack actions have no place there.
    op.execute(
        f"INSERT INTO outbox (id, channel, {COMMON}) SELECT id, kind, {COMMON} FROM queue "
        "WHERE kind IN ('email', 'slack')"
    )
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "SELECT setval(pg_get_serial_sequence('outbox', 'id'), "
            "COALESCE((SELECT MAX(id) FROM outbox), 0) + 1, false)"
        )
    with op.batch_alter_table('queue', schema=None) as batch_op:
        batch_op.drop_index('ix_queue_lease_owner')
        batch_op.drop_index('ix_queue_ordering_key_status')
        batch_op.drop_index('ix_queue_status_next_attempt_at')
    op.drop_table('queue')
