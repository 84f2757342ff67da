"""Builders for notification tests: events that enqueue rows, and reading the outbox."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.conversation import post_message
from store.db import transaction
from store.models import Broker, QueueRow, Tender
from store.outbox import enqueue, enqueue_for_broker
from store.tenders import add_offer
from tests.conftest import BERND_ACTOR
from tests.store.helpers import started_tender

OFFER_CONTEXT = {
    "reference": "AS-2026-0001",
    "product": "haftpflicht",
    "product_label": "Betriebshaftpflicht",
    "insurer": "Allianz",
    "premium": "1234.50",
    "valid_until": "2026-12-31",
    "customer_name": "Bäckerei Korn GmbH",
}


async def tender_with_offer(
    sessions: async_sessionmaker[AsyncSession], broker: Broker, *, premium: str = "1234.50"
) -> Tender:
    """Broker starts a tender, backoffice Bernd posts Allianz's offer (rule N1 fires)."""
    tender = await started_tender(sessions, broker)
    async with transaction(sessions) as session:
        await add_offer(
            session,
            BERND_ACTOR,
            tender.reference,
            insurer="Allianz",
            premium=Decimal(premium),
            valid_until=date(2026, 12, 31),
            today=date(2026, 11, 23),
        )
    return tender


async def bernd_asks(sessions: async_sessionmaker[AsyncSession], reference: str, body: str) -> None:
    """Backoffice Bernd writes a query in the tender's conversation (rule N2 fires)."""
    async with transaction(sessions) as session:
        await post_message(session, BERND_ACTOR, reference, body)


async def enqueue_offer_mail(
    session: AsyncSession, broker: Broker, **context: object
) -> int | None:
    """One offer e-mail to ``broker`` (no CC, no DM), in the caller's transaction."""
    return await enqueue(
        session,
        channel="email",
        recipient=broker.email,
        template="offer_available",
        context={**OFFER_CONTEXT, **context},
    )


async def offer_rows(
    sessions: async_sessionmaker[AsyncSession], broker: Broker, **context: object
) -> list[int]:
    async with transaction(sessions) as session:
        return await enqueue_for_broker(
            session, broker, "offer_available", {**OFFER_CONTEXT, **context}
        )


async def outbox(
    sessions: async_sessionmaker[AsyncSession], channel: str | None = None
) -> list[QueueRow]:
    query = select(QueueRow).where(QueueRow.kind.in_(("email", "slack"))).order_by(QueueRow.id)
    if channel is not None:
        query = query.where(QueueRow.kind == channel)
    async with transaction(sessions) as session:
        return list(await session.scalars(query))


async def outbox_row(sessions: async_sessionmaker[AsyncSession], row_id: int) -> QueueRow:
    async with transaction(sessions) as session:
        row = await session.get(QueueRow, row_id)
        assert row is not None
        return row
