"""Wake a queue worker when the transaction that queued its work commits.

Producers call ``wake_on_commit(session, channel)`` next to the insert. When that session's
transaction commits, every worker of the channel in this process wakes at once; on
PostgreSQL the transaction also sends ``NOTIFY`` (delivered only on commit, never on
rollback), which wakes the workers of other processes: the queue's insert carries it in
its RETURNING (``notify_column``), other transactions send it just before they commit.
The NOTIFY channel is scoped to the schema the session works in (``current_schema()``),
because LISTEN/NOTIFY spans the whole database: two deployments (or test runs) that share
a database in different schemas must never wake each other. A worker runs as

    await run_when_woken(sessions, channel, step, interval=10)

which runs ``step`` now, then each time it is woken and at the latest every ``interval``
seconds: polling stays as the safety net for a lost notification or a row that fell due
later (retries). A wake that arrives while ``step`` runs is kept, so nothing committed
during a run waits for the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from sqlalchemy import ColumnElement, event, literal_column, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session, SessionTransaction

logger = logging.getLogger("tenderbot.wake")

QUEUE = "tenderbot_queue"

_MARKS = "tenderbot_wake_channels"
# Channels a statement of the transaction has already sent its NOTIFY for (``notify_column``).
_NOTIFIED = "tenderbot_wake_notified"

# The PostgreSQL channel of ``channel`` in the connection's schema: "<channel>.<schema>",
# or the schema's md5 when that would pass PostgreSQL's 63-byte limit on channel names
# (LISTEN would silently truncate the name while pg_notify refuses it). Computed by the
# server on both sides, so notifier and listener agree on whatever search_path they have.
_SCOPED = """CASE WHEN octet_length({channel} || '.' || current_schema()) < 64
    THEN {channel} || '.' || current_schema()
    ELSE {channel} || '.' || md5(current_schema()) END"""
_NOTIFY = text(f"SELECT pg_notify({_SCOPED.format(channel=':channel')}, '')")
_LISTEN_CHANNEL = f"SELECT {_SCOPED.format(channel='$1::text')}"


def notify_column(channel: str) -> ColumnElement[Any]:
    """The NOTIFY of ``channel`` as a column for an ``INSERT … RETURNING`` on PostgreSQL,
    so the insert rings without a statement (and a round trip) of its own. PostgreSQL
    sends one notice per transaction however many rows return it, and none if no row
    is inserted. Mark the session with ``notified_by_statement``."""
    if not _PLAIN_CHANNEL.fullmatch(channel):
        raise ValueError(f"not a channel name: {channel!r}")
    return literal_column(f"pg_notify({_SCOPED.format(channel=repr(channel))}, '')")


_PLAIN_CHANNEL = re.compile(r"[a-z_]+")


def notified_by_statement(session: AsyncSession | Session, channel: str) -> None:
    """A statement of this transaction returned ``notify_column(channel)``: the commit need
    not NOTIFY again. Not inside a savepoint, whose rollback would drop that notice."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info.setdefault(_NOTIFIED, set()).add(channel)


async def postgres_channel(driver: Any, channel: str) -> str:
    """The NOTIFY channel of ``channel`` in the schema of ``driver`` (an asyncpg
    connection outside any transaction)."""
    scoped: str = await driver.fetchval(_LISTEN_CHANNEL, channel)
    return scoped


class Waiter:
    """One worker's doorbell: ``wait`` returns when rung or after the timeout."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def ring(self) -> None:
        if _running_loop() is self._loop:
            self._event.set()
        else:
            # A commit in another thread (or event loop) of this process. A loop that has
            # closed without its worker leaving (a cancelled task never resumed) is skipped:
            # a commit must never fail because of a worker that is gone.
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._event.set)

    @property
    def rung(self) -> bool:
        """A wake has arrived that ``wait`` has not consumed yet."""
        return self._event.is_set()

    async def wait(self, seconds: float) -> bool:
        """True when woken, False after ``seconds``; either way the bell is reset."""
        try:
            await asyncio.wait_for(self._event.wait(), seconds)
        except TimeoutError:
            return False
        finally:
            self._event.clear()
        return True


_waiters: dict[str, set[Waiter]] = {}
_lock = threading.Lock()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def wake(channel: str) -> None:
    """Wake this process's workers of ``channel`` now."""
    with _lock:
        waiters = list(_waiters.get(channel, ()))
    for waiter in waiters:
        waiter.ring()


@contextlib.contextmanager
def waiter_for(channel: str) -> Iterator[Waiter]:
    waiter = Waiter(channel)
    with _lock:
        _waiters.setdefault(channel, set()).add(waiter)
    try:
        yield waiter
    finally:
        with _lock:
            _waiters[channel].discard(waiter)


def wake_on_commit(session: AsyncSession | Session, channel: str) -> None:
    """Wake ``channel``'s workers once this session's transaction commits."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info.setdefault(_MARKS, set()).add(channel)


@event.listens_for(Session, "before_commit")
def _notify_other_processes(session: Session) -> None:
    channels = session.info.get(_MARKS, set()) - session.info.get(_NOTIFIED, set())
    if not channels or session.get_bind().dialect.name != "postgresql":
        return
    # Inside the committing transaction: PostgreSQL delivers it on commit, drops it on
    # rollback. Runs in SQLAlchemy's greenlet, so the sync call awaits the driver.
    for channel in sorted(channels):
        session.execute(_NOTIFY, {"channel": channel})


@event.listens_for(Session, "after_commit")
def _wake_this_process(session: Session) -> None:
    session.info.pop(_NOTIFIED, None)
    for channel in session.info.pop(_MARKS, ()):
        wake(channel)


@event.listens_for(Session, "after_transaction_end")
def _forget_on_rollback(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_MARKS, None)
        session.info.pop(_NOTIFIED, None)


@contextlib.asynccontextmanager
async def _postgres_listener(
    sessions: async_sessionmaker[AsyncSession], channel: str
) -> AsyncIterator[Any]:
    """A dedicated driver connection (asyncpg) that LISTENs on ``channel`` and wakes this
    process's workers; None without one (SQLite, or PostgreSQL refusing the connection),
    and then the workers only poll."""
    engine = sessions.kw.get("bind")
    if engine is None or engine.dialect.name != "postgresql":
        yield None
        return

    def on_notify(_connection: Any, _pid: int, _channel: str, _payload: str) -> None:
        wake(channel)

    try:
        connection = await engine.connect()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        # On the driver directly: a SQLAlchemy statement would open a transaction, and
        # PostgreSQL holds notifications back from a connection inside one.
        scoped = await postgres_channel(driver, channel)
        await driver.add_listener(scoped, on_notify)
    except Exception as error:  # the worker must run, polling, whatever LISTEN's problem
        logger.warning("LISTEN %s failed, polling only: %s", channel, error)
        yield None
        return
    try:
        yield driver
    finally:
        with contextlib.suppress(Exception):
            await driver.remove_listener(scoped, on_notify)
        with contextlib.suppress(Exception):
            await connection.close()


def _stop_if_cancelled() -> None:
    """A step that swallowed our cancellation (``suppress(CancelledError)`` around an inner
    task) must not keep the worker alive: shutdown would wait for it for ever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def run_when_woken(
    sessions: async_sessionmaker[AsyncSession],
    channel: str,
    step: Callable[[], Awaitable[object]],
    *,
    interval: float,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """Run ``step`` now, on every wake of ``channel`` and at the latest every ``interval``
    seconds, until cancelled or, after a wake, ``stopping()`` (SIGTERM: the step in hand
    ends first). A failing step is logged and retried at the next turn."""
    with waiter_for(channel) as waiter:
        while not stopping():
            async with _postgres_listener(sessions, channel) as listener:
                while (listener is None or not listener.is_closed()) and not stopping():
                    try:
                        await step()
                    except Exception:
                        logger.exception("queue worker %s: step failed", channel)
                        # No hot loop on a persistent error: wait the full interval.
                        await asyncio.sleep(interval)
                        continue
                    _stop_if_cancelled()
                    await waiter.wait(interval)
                if not stopping():
                    logger.warning("LISTEN %s connection lost; listening again", channel)
