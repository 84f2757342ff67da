"""The few statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


_INSERTS: dict[tuple[str, object, object], Any] = {}


def insert_ignoring_conflicts(
    session: AsyncSession, model: type[DeclarativeBase] | Table, *, returning: Any = None
) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING``: the second writer of a key simply inserts nothing.

    Built once per dialect, table and RETURNING column (or tuple of them): statements are
    immutable, and executed with their values as parameters a kept one also keeps its
    cache key, which SQLAlchemy would otherwise work out again for every event and queue
    row.
    """
    name = dialect_name(session)
    key = (name, model, returning)
    statement = _INSERTS.get(key)
    if statement is None:
        insert = postgresql.insert if name == "postgresql" else sqlite.insert
        statement = insert(model).on_conflict_do_nothing()
        if isinstance(returning, tuple):
            statement = statement.returning(*returning)
        elif returning is not None:
            statement = statement.returning(returning)
        _INSERTS[key] = statement
    return statement


def upsert(session: AsyncSession, model: type[DeclarativeBase] | Table) -> Any:
    """An insert that can be given ``.on_conflict_do_update`` on either backend."""
    insert = postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert
    return insert(model)
