"""Queue workers wake when the transaction that queued their work commits (store.wake)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from store import wake
from store.db import transaction
from store.outbox import enqueue

AN_HOUR = 3600.0


async def stopped(worker: asyncio.Task[None]) -> None:
    """Cancel and wait, so the worker closes its LISTEN connection before the engine goes."""
    worker.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await worker


async def queue_mail(session: AsyncSession) -> None:
    await enqueue(
        session, channel="email", recipient="anna@example.org", template="offer", context={}
    )


async def test_it_wakes_a_waiting_worker_when_the_queuing_transaction_commits(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with wake.waiter_for(wake.QUEUE) as waiter:
        async with transaction(sessions) as session:
            await queue_mail(session)
            await session.flush()
            assert not waiter.rung  # not before the row is visible to the worker
        assert await waiter.wait(AN_HOUR)


async def test_it_does_not_wake_for_a_rolled_back_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with wake.waiter_for(wake.QUEUE) as waiter:
        async with sessions() as session:
            await queue_mail(session)
            await session.rollback()
            # The same session's next commit carries no stale wake from the rollback.
            await session.commit()
        assert not waiter.rung


async def test_it_keeps_a_wake_that_arrives_while_the_worker_runs(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    runs: asyncio.Queue[int] = asyncio.Queue()

    async def step() -> None:
        runs.put_nowait(runs.qsize())
        if runs.qsize() == 1:
            # Committed during the first run: the worker must run again without polling.
            async with transaction(sessions) as session:
                await queue_mail(session)

    worker = asyncio.create_task(wake.run_when_woken(sessions, wake.QUEUE, step, interval=AN_HOUR))
    try:
        await asyncio.wait_for(runs.get(), timeout=30)
        await asyncio.wait_for(runs.get(), timeout=30)
    finally:
        await stopped(worker)


async def test_it_keeps_working_after_a_failing_step(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    runs: asyncio.Queue[None] = asyncio.Queue()

    async def step() -> None:
        runs.put_nowait(None)
        if runs.qsize() == 1:
            raise RuntimeError("database gone for a moment")

    worker = asyncio.create_task(wake.run_when_woken(sessions, wake.QUEUE, step, interval=0.01))
    try:
        for _ in range(2):
            await asyncio.wait_for(runs.get(), timeout=30)
    finally:
        await stopped(worker)


@pytest.mark.postgres_only
async def test_it_notifies_other_processes_only_on_commit(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    ours: set[int] = set()

    def listener(_connection: Any, pid: int, channel: str, _payload: str) -> None:
        # Channels are per database: other test runs on it notify too; only ours count.
        if pid in ours:
            heard.put_nowait(channel)

    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        await driver.add_listener(wake.QUEUE, listener)
        async with sessions() as session:
            ours.add(int(await session.scalar(text("SELECT pg_backend_pid()")) or 0))
            await queue_mail(session)
            await session.rollback()
        async with transaction(sessions) as session:
            ours.add(int(await session.scalar(text("SELECT pg_backend_pid()")) or 0))
            await queue_mail(session)
        assert await asyncio.wait_for(heard.get(), timeout=30) == wake.QUEUE
        # PostgreSQL delivers in commit order: a notice of the rollback would have come first.
        assert heard.empty()
        await driver.remove_listener(wake.QUEUE, listener)


QUEUE_FROM_ANOTHER_PROCESS = """
import asyncio, sys
from store.db import make_engine, make_sessionmaker, transaction
from store.outbox import enqueue

async def main() -> None:
    engine = make_engine(sys.argv[1], search_path=sys.argv[2] or None)
    async with transaction(make_sessionmaker(engine)) as session:
        await enqueue(session, channel="email", recipient="anna@example.org",
                      template="offer", context={})
    await engine.dispose()

asyncio.run(main())
"""


@pytest.mark.postgres_only
async def test_it_wakes_the_worker_when_another_process_commits(
    database_url: str, search_path: str | None, sessions: async_sessionmaker[AsyncSession]
) -> None:
    runs: asyncio.Queue[None] = asyncio.Queue()

    async def step() -> None:
        runs.put_nowait(None)

    worker = asyncio.create_task(wake.run_when_woken(sessions, wake.QUEUE, step, interval=AN_HOUR))
    try:
        await asyncio.wait_for(runs.get(), timeout=30)
        # The first run has returned, so the worker now listens (it LISTENs before that run).
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", QUEUE_FROM_ANOTHER_PROCESS, database_url, search_path or ""
        )
        assert await asyncio.wait_for(process.wait(), timeout=60) == 0
        await asyncio.wait_for(runs.get(), timeout=30)
    finally:
        await stopped(worker)


async def test_it_stops_when_cancelled_even_if_a_step_swallows_the_cancellation(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    started = asyncio.Event()

    async def step() -> None:
        started.set()
        # As a step that cancels an inner task and suppresses CancelledError around it does.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(AN_HOUR)

    worker = asyncio.create_task(wake.run_when_woken(sessions, wake.QUEUE, step, interval=0.01))
    await asyncio.wait_for(started.wait(), timeout=30)
    worker.cancel()

    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(worker, timeout=30)
    assert worker.done()
