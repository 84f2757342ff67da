"""What an operator does with the queue: look at stuck rows and requeue a dead one."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import InvalidInput, NotFound
from store.models import QueueRow, QueueStatus
from store.types import utcnow


async def list_unsent(
    session: AsyncSession,
    statuses: Sequence[str] = (QueueStatus.PENDING, QueueStatus.DEAD),
    limit: int = 200,
) -> list[QueueRow]:
    rows = await session.scalars(
        select(QueueRow)
        .where(QueueRow.status.in_(list(statuses)))
        .order_by(QueueRow.status, QueueRow.next_attempt_at, QueueRow.id)
        .limit(limit)
    )
    return list(rows)


async def requeue_dead(session: AsyncSession, row_id: int) -> QueueRow:
    """Give a dead-lettered row a fresh set of attempts, due now (same Message-ID)."""
    row = await session.get(QueueRow, row_id, with_for_update=True)
    if row is None:
        raise NotFound(f"Es gibt keinen Eintrag der Warteschlange {row_id}.")
    if row.status != QueueStatus.DEAD:
        raise InvalidInput(
            f"Eintrag der Warteschlange {row_id} ist nicht im Dead-Letter (Status: {row.status}); "
            "nur tote Einträge können neu eingereiht werden."
        )
    row.status = QueueStatus.PENDING
    row.attempts = 0
    row.next_attempt_at = utcnow()
    row.lease_until = None
    row.last_error = f"requeued by operator; before: {row.last_error or '-'}"[:2000]
    await session.flush()
    return row
