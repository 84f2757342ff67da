"""Engine and session factory for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

logger = logging.getLogger(__name__)

# As many pooled connections as requests a process usually serves at once: an overflow
# connection is closed on return, and opening one costs a TCP handshake and authentication
# on PostgreSQL or a new worker thread on aiosqlite. The defaults of TENDERBOT_DATABASE_POOL_SIZE
# and TENDERBOT_DATABASE_MAX_OVERFLOW.
POOL_SIZE = 10
MAX_OVERFLOW = 10
# Servers, proxies and firewalls drop connections that sat idle; recycling before that
# spares the request that would have found out.
POOL_RECYCLE_SECONDS = 1800
# Only a connection that sat unused this long is pinged before it is handed out; under load
# connections are never that idle, so busy requests do not pay a round trip per checkout.
IDLE_PING_SECONDS = 30.0
IDLE_SINCE = "tenderbot_idle_since"
# Longer than any queue of short write sections; past it the writer falls back to SQLite's
# own busy wait instead of hanging on a turn that a crashed task never gave back.
WRITE_TURN_TIMEOUT = 10.0


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def make_engine(
    url: str,
    *,
    search_path: str | None = None,
    idle_ping_seconds: float = IDLE_PING_SECONDS,
    **kwargs: Any,
) -> AsyncEngine:
    """Create the async engine; ``search_path`` lets tests give each run its own schema."""
    connect_args: dict[str, Any] = {}
    pooling: dict[str, Any] = {"pool_size": POOL_SIZE, "max_overflow": MAX_OVERFLOW}
    if is_postgres(url):
        if search_path:
            connect_args["server_settings"] = {"search_path": search_path}
        engine = create_async_engine(
            url,
            connect_args=connect_args,
            pool_recycle=POOL_RECYCLE_SECONDS,
            **(pooling | kwargs),
        )
        _ping_when_idle(engine.sync_engine, idle_ping_seconds)
    else:
        # A writer waits for the lock instead of failing at once with "database is locked".
        connect_args["timeout"] = 30
        if make_url(url).database in (None, "", ":memory:"):
            pooling = {}  # an in-memory database lives in its single connection
        # No rollback on checkin: Session and Connection already end their transaction
        # (commit, or rollback on close), and on aiosqlite each rollback is one more round
        # trip to the connection's worker thread.
        engine = create_async_engine(
            url, connect_args=connect_args, pool_reset_on_return=None, **(pooling | kwargs)
        )
        event.listen(engine.sync_engine, "first_connect", _sqlite_journal_mode)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Check a connection that sat idle before use; a dead one is replaced, not handed out."""

    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info[IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _check(
        dbapi_connection: Any, record: ConnectionPoolEntry, _: PoolProxiedConnection
    ) -> None:
        idle_since = record.info.get(IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards this connection and checks out (or opens) another one.
            raise DisconnectionError(f"pooled connection died while idle: {error}") from error


def _sqlite_journal_mode(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # WAL is stored in the database file, so once per engine is enough (readers never
    # block the writer); the other pragmas below hold per connection only.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    # In WAL mode NORMAL syncs at checkpoints, not at every commit: a committed outbox row
    # survives a crash of the process (the promise the outbox makes); only a power cut can
    # lose the last commits. It multiplies small-commit throughput several times.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession], *, write: bool = False
) -> AsyncIterator[AsyncSession]:
    """One unit of work: commit on success, roll back on any error, never half-written.

    ``write``: the transaction only writes (a queue claim, a delivery's record), so on
    SQLite it takes its write turn at once; others call ``take_write_turn`` where their
    writes begin, after the reads.
    """
    async with sessions() as session, session.begin():
        if write:
            await take_write_turn(session)
        yield session
    # Reached only once the commit went through (an error skips it).
    counter = _commits.get()
    if counter is not None:
        counter[0] += 1


_commits: ContextVar[list[int] | None] = ContextVar("tenderbot_commits", default=None)


@contextmanager
def counting_commits() -> Iterator[list[int]]:
    """Count the ``transaction`` commits of the current task inside the block (``[n]``): a
    caller retrying failed work may repeat it only where nothing was committed yet."""
    counter = [0]
    token = _commits.set(counter)
    try:
        yield counter
    finally:
        _commits.reset(token)


# -- write turns -----------------------------------------------------------------------------

_write_turns: weakref.WeakKeyDictionary[Engine, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)
_HOLDS_TURN = "tenderbot_holds_write_turn"


def _turn_lock(engine: Engine) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    known = _write_turns.get(engine)
    if known is None or known[0] is not loop:
        known = (loop, asyncio.Lock())
        _write_turns[engine] = known
    return known[1]


async def take_write_turn(session: AsyncSession) -> None:
    """On SQLite, queue (in this process) for the single write lock before the first write.

    Call it where the transaction's writes begin; the turn passes on when the transaction
    ends. SQLite's busy handler retries with sleeps growing to 100 ms and lets newcomers
    overtake, so under load a few writers waited seconds (bench/mirror.py: p99 ~1.6 s);
    waiting in line keeps every wait about one short write section per writer ahead.
    PostgreSQL locks rows, not the database: nothing to wait for there.
    """
    engine = session.get_bind().engine
    if engine.dialect.name != "sqlite" or session.info.get(_HOLDS_TURN):
        return
    lock = _turn_lock(engine)
    if not await _wait_for_turn(lock):
        return
    session.info[_HOLDS_TURN] = True

    def pass_turn(ended: Session, transaction: SessionTransaction) -> None:
        # The outermost transaction only: a savepoint ending does not release SQLite's lock.
        if transaction.parent is None and ended.info.pop(_HOLDS_TURN, False):
            lock.release()

    event.listen(session.sync_session, "after_transaction_end", pass_turn)


async def _wait_for_turn(lock: asyncio.Lock) -> bool:
    """Wait in line for the write turn; after WRITE_TURN_TIMEOUT go on without one (a task
    that crashed holding it must not stop every writer)."""
    try:
        async with asyncio.timeout(WRITE_TURN_TIMEOUT):
            await lock.acquire()
    except TimeoutError:
        logger.warning(
            "no SQLite write turn within %.0f s; writing without one", WRITE_TURN_TIMEOUT
        )
        return False
    return True


@asynccontextmanager
async def write_turn(engine: AsyncEngine) -> AsyncIterator[None]:
    """``take_write_turn`` for a statement on a connection of its own (autocommit), which no
    session's end can pass on: the turn passes when the block ends."""
    if engine.dialect.name != "sqlite":
        yield
        return
    lock = _turn_lock(engine.sync_engine)
    if not await _wait_for_turn(lock):
        yield
        return
    try:
        yield
    finally:
        lock.release()
