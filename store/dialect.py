"""The few statements whose spelling differs between SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase


def dialect_name(session: AsyncSession) -> str:
    return session.get_bind().dialect.name


def insert_ignoring_conflicts(
    session: AsyncSession, model: type[DeclarativeBase] | Table, *, returning: Any = None
) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING``: the second writer of a key simply inserts nothing."""
    insert = postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert
    statement: Any = insert(model).on_conflict_do_nothing()
    if returning is not None:
        statement = statement.returning(returning)
    return statement


def upsert(session: AsyncSession, model: type[DeclarativeBase] | Table) -> Any:
    """An insert that can be given ``.on_conflict_do_update`` on either backend."""
    insert = postgresql.insert if dialect_name(session) == "postgresql" else sqlite.insert
    return insert(model)
