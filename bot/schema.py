"""Is the database there and at the newest migration? Asked before anything touches it."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from bot.settings import Settings
from store.migrate import script_heads

# The migration scripts do not change while the process runs; the readiness probe asks often.
_heads = cache(script_heads)
# Alembic's own table, read directly: importing Alembic to read one row would cost every
# command a quarter of a second or more before its work.
VERSION_TABLE = "alembic_version"


class SchemaNotCurrent(Exception):
    """The database is not at the newest migration; the message tells the operator what to run."""


async def check_schema(engine: AsyncEngine, settings: Settings) -> None:
    """Refuse to serve on an old schema: half-migrated tables fail later and confusingly."""

    async with engine.connect() as connection:
        await _check(connection, settings)


async def check_sessions_schema(
    sessions: async_sessionmaker[AsyncSession], settings: Settings
) -> None:
    """``check_schema`` on a pooled connection, for the readiness probe."""
    async with sessions() as session:
        await _check(await session.connection(), settings)


def _current(connection: Connection) -> str | None:
    """The revision the database is at (None before the first migration); several rows
    are named together, which no head matches."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    found = connection.scalars(text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
    return ", ".join(sorted(found)) or None


async def _check(connection: AsyncConnection, settings: Settings) -> None:
    revision = await connection.run_sync(_current)
    expected = _heads()
    if revision not in expected:
        found = revision or "no schema"
        raise SchemaNotCurrent(
            f"database {settings.database_url_for_logs} is at {found}, expected {expected[0]}; "
            "run `tenderbot db upgrade` or start with `tenderbot serve --migrate`"
        )
