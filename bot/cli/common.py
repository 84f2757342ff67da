"""Helpers every CLI command uses: settings, one event loop, clean errors."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.schema import SchemaNotCurrent, check_schema
from bot.settings import ConfigurationError, Settings, load_settings
from store.db import make_engine, make_sessionmaker, transaction
from store.errors import DomainError

T = TypeVar("T")


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as error:
        click.echo(f"tenderbot: {error}", err=True)
        sys.exit(2)


class DatabaseUnavailable(Exception):
    """The database cannot be reached or refused a statement; the message names it."""


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one command's coroutine. Domain errors become a German line and exit code 1; a
    database that is missing, unreachable or not migrated becomes one line for the operator."""
    try:
        return asyncio.run(coroutine)
    except DomainError as error:
        click.echo(f"Fehler: {error.message_de}", err=True)
        sys.exit(1)
    except (SchemaNotCurrent, DatabaseUnavailable) as error:
        raise click.ClickException(str(error)) from None


def domain_or_exit(make: Callable[[], T]) -> T:
    """Validate input outside the event loop with the same error handling as ``run``."""
    try:
        return make()
    except DomainError as error:
        click.echo(f"Fehler: {error.message_de}", err=True)
        sys.exit(1)


@asynccontextmanager
async def database(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the configured database, once it is known to be reachable and current."""
    engine = make_engine(
        settings.database_url,
        search_path=settings.database_schema,
        **settings.database_pooling,
    )
    try:
        try:
            await check_schema(engine, settings)
        except (SQLAlchemyError, OSError) as error:
            problem = database_problem(settings, "unreachable", error)
            raise DatabaseUnavailable(problem) from error
        try:
            yield make_sessionmaker(engine)
        except SQLAlchemyError as error:
            problem = database_problem(settings, "refused a statement", error)
            raise DatabaseUnavailable(problem) from error
    finally:
        await engine.dispose()


def database_problem(settings: Settings, what: str, error: BaseException) -> str:
    """One line for the operator: which database, what went wrong, the driver's first line."""
    detail = str(getattr(error, "orig", None) or error).splitlines()[0]
    return f"database {settings.database_url_for_logs} {what}: {type(error).__name__}: {detail}"


async def with_sessions(
    settings: Settings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    """For a command that needs more than one transaction."""
    async with database(settings) as sessions:
        return await work(sessions)


async def in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def once(sessions: async_sessionmaker[AsyncSession]) -> T:
        async with transaction(sessions) as session:
            return await work(session)

    return await with_sessions(settings, once)
