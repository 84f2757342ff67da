"""Helpers every CLI command uses: settings, one event loop, clean errors."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run one command's coroutine; domain errors become a German line and exit code 1."""
    try:
        return asyncio.run(coroutine)
    except DomainError as error:
        click.echo(f"Fehler: {error.message_de}", err=True)
        sys.exit(1)


def domain_or_exit(make: Callable[[], T]) -> T:
    """Validate input outside the event loop with the same error handling as ``run``."""
    try:
        return make()
    except DomainError as error:
        click.echo(f"Fehler: {error.message_de}", err=True)
        sys.exit(1)


async def in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = make_engine(settings.database_url, search_path=settings.database_schema)
    sessions: async_sessionmaker[AsyncSession] = make_sessionmaker(engine)
    try:
        async with transaction(sessions) as session:
            return await work(session)
    finally:
        await engine.dispose()
