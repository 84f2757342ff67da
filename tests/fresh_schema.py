"""A PostgreSQL schema of its own for a test that starts processes or migrates by itself."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text

from store.db import make_engine
from tests.conftest import POSTGRES_URL


@asynccontextmanager
async def fresh_schema() -> AsyncIterator[str]:
    """An empty schema, dropped with everything in it afterwards."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = make_engine(POSTGRES_URL)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        yield schema
    finally:
        async with engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()
