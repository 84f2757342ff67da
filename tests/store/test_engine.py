"""Pooled connections: SQLite pragmas on every connection, PostgreSQL pings only idle ones."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from store.db import make_engine
from tests.conftest import ON_POSTGRES

sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="SQLite pragmas")


@sqlite_only
async def test_it_keeps_wal_and_enforces_foreign_keys_on_every_pooled_connection(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    try:
        async with engine.connect() as first, engine.connect() as second:
            for connection in (first, second):
                mode = await connection.scalar(text("PRAGMA journal_mode"))
                foreign_keys = await connection.scalar(text("PRAGMA foreign_keys"))
                synchronous = await connection.scalar(text("PRAGMA synchronous"))
                assert (mode, foreign_keys, synchronous) == ("wal", 1, 1)  # 1 = NORMAL
    finally:
        await engine.dispose()


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int(await connection.scalar(text("SELECT pg_backend_pid()")) or 0)


async def kill_backend(admin: AsyncEngine, pid: int) -> None:
    """What a database restart or a firewall does to a connection idling in the pool."""
    async with admin.connect() as connection:
        # With a timeout the call returns only once the backend has really exited.
        gone = await connection.scalar(
            text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}
        )
    assert gone


@pytest.mark.postgres_only
async def test_it_replaces_a_connection_that_died_while_idle(
    engine: AsyncEngine, database_url: str, search_path: str | None
) -> None:
    pinging = make_engine(database_url, search_path=search_path, idle_ping_seconds=0)
    try:
        dead = await backend_pid(pinging)
        await kill_backend(engine, dead)

        assert await backend_pid(pinging) != dead
    finally:
        await pinging.dispose()


@pytest.mark.postgres_only
async def test_it_hands_out_a_connection_used_just_now_without_a_ping(
    engine: AsyncEngine, database_url: str, search_path: str | None
) -> None:
    # Busy connections skip the round trip; a death in between shows as an error that
    # invalidates the pool, and the next checkout connects afresh.
    busy = make_engine(database_url, search_path=search_path, idle_ping_seconds=3600)
    try:
        dead = await backend_pid(busy)
        await kill_backend(engine, dead)

        with pytest.raises(DBAPIError):
            await backend_pid(busy)
        assert await backend_pid(busy) != dead
    finally:
        await busy.dispose()
