"""Acknowledged requests survive a small connection pool and a database that refuses for a
moment: every acked start is stored, once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.localslack import LocalSlack, SignedSender
from bot.personas import ANNA, BERND
from bot.settings import Settings
from handlers.context import TECHNICAL_ERROR, is_transient
from store.db import make_engine, make_sessionmaker
from store.models import Broker, Tender
from tests.handlers.scenario import (
    START_TEXT,
    TenderThreads,
    all_text,
    bot_posts,
    bot_replies,
    eventually,
    stored,
    write,
)
from tests.slack.conftest import app_settings

BURST = 15


@pytest.fixture
async def tiny_engine(
    engine: AsyncEngine, database_url: str, search_path: str | None
) -> AsyncIterator[AsyncEngine]:
    """Two connections (a start and the delivery of its cards), none on top, and a short
    wait for one: what a process with many requests in flight sees of a busy pool.
    (``engine`` first: it empties the tables.)"""
    tiny = make_engine(
        database_url, search_path=search_path, pool_size=2, max_overflow=0, pool_timeout=0.05
    )
    yield tiny
    await tiny.dispose()


@pytest.fixture
def sessions(tiny_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(tiny_engine)


@pytest.fixture
def slack_settings(slack: LocalSlack, database_url: str) -> Settings:
    return app_settings(slack, database_url, database_pool_size=2, database_max_overflow=0)


async def refuse_connections(engine: AsyncEngine, count: int) -> list[int]:
    """The next ``count`` connections ``engine`` opens are refused, as by a database that is
    restarting or full; returns the refusals still to come."""
    await engine.dispose()  # the next statement must open a new connection
    refusals = [count]

    def refuse(*_args: Any) -> None:
        if refusals[0] > 0:
            refusals[0] -= 1
            raise OperationalError("connect", {}, ConnectionRefusedError("server is down"))

    event.listen(engine.sync_engine, "do_connect", refuse)
    return refusals


async def tenders(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Tender)) or 0)


def technical_errors(slack: LocalSlack) -> list[dict[str, Any]]:
    return [answer for answer in slack.responses(ANNA) if TECHNICAL_ERROR in all_text(answer)]


async def test_it_stores_every_acknowledged_start_of_a_burst_larger_than_the_pool(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Anna starts 15 tenders (for 15 customers) at once on a process with two connections: all are
    acknowledged, and all are stored, none answered with the technical error."""
    sent = await asyncio.gather(
        *(
            slack_request.send_command(
                ANNA, "/ausschreibung", START_TEXT.replace("Korn", f"Korn {n}")
            )
            for n in range(BURST)
        )
    )
    assert [response.status for response in sent] == [200] * BURST

    await slack.wait_for(lambda: len(slack.responses(ANNA)) >= BURST, seconds=20)
    assert technical_errors(slack) == []
    await eventually(lambda: _has(sessions, BURST), seconds=20)
    assert await tenders(sessions) == BURST


async def _has(sessions: async_sessionmaker[AsyncSession], count: int) -> bool:
    return await tenders(sessions) >= count


async def test_it_retries_a_start_the_database_refused_and_stores_it_once(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
    tiny_engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database refuses the first two connections after Anna's start was acknowledged
    (a restart, "too many clients"): the start is tried again and stored exactly once."""
    refusals = await refuse_connections(tiny_engine, 2)
    with caplog.at_level(logging.WARNING, logger="handlers.context"):
        response = await slack_request.send_command(ANNA, "/ausschreibung", START_TEXT)
        assert response.status == 200
        await slack.wait_for(lambda: len(slack.responses(ANNA)) >= 1, seconds=20)
        await eventually(lambda: _has(sessions, 1), seconds=20)

    assert refusals == [0]
    assert technical_errors(slack) == []
    assert await tenders(sessions) == 1
    retries = [record for record in caplog.records if "database unavailable" in record.message]
    assert len(retries) == 2


def test_it_retries_only_passing_database_trouble() -> None:
    """A refused connection or an exhausted pool is retried; a wrong statement is not."""
    assert is_transient(PoolTimeoutError("QueuePool limit reached"))
    assert is_transient(OperationalError("connect", {}, ConnectionRefusedError("down")))

    class TooManyConnectionsError(Exception):
        """Stands in for asyncpg's error of the same name."""

    assert is_transient(OperationalError("connect", {}, TooManyConnectionsError("too many")))
    assert not is_transient(ProgrammingError("SELECT", {}, Exception("syntax error")))
    assert not is_transient(IntegrityError("INSERT", {}, Exception("duplicate key")))
    assert not is_transient(ValueError("a bug"))


async def test_it_retries_a_thread_message_the_database_refused_and_mirrors_it_once(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
    tiny_engine: AsyncEngine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Bernd's query (M3, M5) was acknowledged when the database refused two connections:
    the event is handled again and reaches Anna's thread exactly once."""
    refusals = await refuse_connections(tiny_engine, 2)
    with caplog.at_level(logging.WARNING, logger="handlers.context"):
        await write(slack, slack_request, BERND, tender.backoffice, "Bitte Schadenliste senden")
        [mirrored] = await bot_replies(slack, tender.broker, 1)

    assert refusals == [0]
    assert "Bitte Schadenliste senden" in all_text(mirrored)
    retries = [record for record in caplog.records if "database unavailable" in record.message]
    assert len(retries) == 2
    assert [message.body for message in await stored(sessions)] == ["Bitte Schadenliste senden"]
    assert len(bot_posts(slack, tender.broker)) == 1
