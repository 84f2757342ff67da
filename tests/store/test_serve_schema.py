"""`tenderbot serve` runs in TENDERBOT_DATABASE_SCHEMA, as every other command does."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from bot.http import open_database
from bot.settings import load_settings


@pytest.mark.postgres_only
async def test_it_serves_from_the_configured_schema(
    database_url: str, search_path: str | None
) -> None:
    settings = load_settings(database_url=database_url, database_schema=search_path)

    engine, _sessions = await open_database(settings, migrate=False)
    try:
        async with engine.connect() as connection:
            schema = (await connection.execute(text("SELECT current_schema()"))).scalar_one()
    finally:
        await engine.dispose()

    assert schema == search_path
