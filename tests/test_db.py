from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from store.db import transaction
from store.migrate import heads, script_heads
from store.models import Base, Broker


def test_it_has_exactly_one_migration_head(database_url: str) -> None:
    assert len(heads(database_url)) == 1


def test_it_reads_the_same_heads_from_the_scripts_as_alembic(database_url: str) -> None:
    """The schema check reads the heads without Alembic; both must agree."""
    assert script_heads() == sorted(heads(database_url))


async def test_it_stores_times_timezone_aware_in_utc(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    async with transaction(sessions) as session:
        loaded = await session.scalar(select(Broker).where(Broker.number == "4711"))
    assert loaded is not None
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at.utcoffset() == UTC.utcoffset(datetime.now(UTC))


async def test_it_builds_the_schema_the_models_describe(engine: AsyncEngine) -> None:
    """The migrations are the only source of the schema; a model change without one fails."""

    def differences(connection: Connection) -> list[Any]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with engine.connect() as connection:
        diff = await connection.run_sync(differences)

    assert diff == []
