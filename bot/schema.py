"""Is the database there and at the newest migration? Asked before anything touches it."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings
from store.migrate import heads


class SchemaNotCurrent(Exception):
    """The database is not at the newest migration; the message tells the operator what to run."""


async def check_schema(engine: AsyncEngine, settings: Settings) -> None:
    """Refuse to serve on an old schema: half-migrated tables fail later and confusingly."""

    def current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        revision = await connection.run_sync(current)
    expected = heads(settings.database_url)
    if revision not in expected:
        found = revision or "no schema"
        raise SchemaNotCurrent(
            f"database {settings.database_url_for_logs} is at {found}, expected {expected[0]}; "
            "run `tenderbot db upgrade` or start with `tenderbot serve --migrate`"
        )
