from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import transaction
from store.migrate import heads
from store.models import Broker


def test_it_has_exactly_one_migration_head(database_url: str) -> None:
    assert len(heads(database_url)) == 1


async def test_it_stores_times_timezone_aware_in_utc(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    async with transaction(sessions) as session:
        loaded = await session.scalar(select(Broker).where(Broker.number == "4711"))
    assert loaded is not None
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == UTC.utcoffset(datetime.now(UTC))
