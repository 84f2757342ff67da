"""Inbound Slack events handled exactly once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from store.dialect import insert_ignoring_conflicts
from store.models import ProcessedEvent
from store.types import utcnow


async def claim_event(session: AsyncSession, event_id: str) -> bool:
    """True for the first delivery of ``event_id``, False for a retry.

    Call it in the transaction that writes the event's effect: if that transaction rolls
    back (a crash mid-handling), the claim goes with it and Slack's retry is processed.
    """
    claimed = await session.scalar(
        insert_ignoring_conflicts(session, ProcessedEvent, returning=ProcessedEvent.event_id),
        {"event_id": event_id, "processed_at": utcnow()},
    )
    return claimed is not None
