"""Queue workers wake when the transaction that queued their work commits (store.wake)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from store import wake
from store.db import make_engine, make_sessionmaker, transaction
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


@contextlib.asynccontextmanager
async def listening(
    engine: AsyncEngine, channel: str
) -> AsyncIterator[asyncio.Queue[tuple[str, int]]]:
    """What another process's worker of ``channel`` hears on ``engine``'s schema: the
    channel and the PostgreSQL backend that notified."""
    heard: asyncio.Queue[tuple[str, int]] = asyncio.Queue()

    def listener(_connection: Any, pid: int, name: str, _payload: str) -> None:
        heard.put_nowait((name, pid))

    async with engine.connect() as connection:
        driver = (await connection.get_raw_connection()).driver_connection
        assert driver is not None
        scoped = await wake.postgres_channel(driver, channel)
        await driver.add_listener(scoped, listener)
        try:
            yield heard
        finally:
            await driver.remove_listener(scoped, listener)


@pytest.mark.postgres_only
async def test_it_notifies_other_processes_only_on_commit(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], search_path: str
) -> None:
    async with listening(engine, wake.QUEUE) as heard:
        async with sessions() as session:
            await queue_mail(session)
            await session.rollback()
        async with transaction(sessions) as session:
            await queue_mail(session)
        channel, _pid = await asyncio.wait_for(heard.get(), timeout=30)
        assert channel == f"{wake.QUEUE}.{search_path}"
        # PostgreSQL delivers in commit order: a notice of the rollback would have come first.
        assert heard.empty()


@pytest.mark.postgres_only
async def test_it_still_notifies_other_processes_when_a_savepoint_with_a_queued_row_rolls_back(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], search_path: str
) -> None:
    async with listening(engine, wake.QUEUE) as heard:
        # The insert rings by itself, except in a savepoint: its rollback would drop the
        # notice, and the row the transaction queues by other means would wait for a poll.
        async with transaction(sessions) as session:
            savepoint = await session.begin_nested()
            await queue_mail(session)
            await savepoint.rollback()
            wake.wake_on_commit(session, wake.QUEUE)
        after_savepoint, _pid = await asyncio.wait_for(heard.get(), timeout=30)
        async with transaction(sessions) as session:
            await queue_mail(session)
        plain, _pid = await asyncio.wait_for(heard.get(), timeout=30)

    assert after_savepoint == plain == f"{wake.QUEUE}.{search_path}"


@pytest.fixture
async def other_deployment(database_url: str) -> AsyncIterator[AsyncEngine]:
    """Another deployment in its own schema of the same PostgreSQL database."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(database_url)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    other = make_engine(database_url, search_path=schema)
    try:
        yield other
    finally:
        await other.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


@pytest.mark.postgres_only
async def test_it_never_wakes_a_deployment_in_another_schema_of_the_database(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], other_deployment: AsyncEngine
) -> None:
    async with listening(other_deployment, wake.QUEUE) as heard_there:
        async with transaction(sessions) as session:
            await queue_mail(session)
        # Then the other deployment queues work of its own, which it must hear.
        async with transaction(make_sessionmaker(other_deployment)) as session:
            its_backend = await session.scalar(text("SELECT pg_backend_pid()"))
            wake.wake_on_commit(session, wake.QUEUE)
        # Delivered in commit order: had our commit reached it, that notice came first.
        _channel, backend = await asyncio.wait_for(heard_there.get(), timeout=30)
        assert backend == its_backend


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
