"""The one durable queue every outgoing side effect leaves through.

A row is written in the transaction that causes it (``enqueue``); a worker claims due rows
with one ``UPDATE … RETURNING`` (on PostgreSQL over ``FOR UPDATE SKIP LOCKED``), which sets
a short lease and a fresh ``lease_owner`` in the same statement, so two workers never hold
the same row. While the worker is alive a heartbeat renews the lease; a worker that dies
leaves it to expire within ``RetryPolicy.lease``, and the row moves on. Only the lease's
owner may record the outcome. Rows sharing an ``ordering_key`` go in id order: a thread's
next post waits until the one before it is sent or dead. A worker that claims a key's first
pending row takes the rows queued behind it in the same claim (no other worker may take
them while it holds the first), sends them in order and hands back, untried, those behind
one that failed.

Nothing here talks to SMTP or Slack: senders in ``notifications/`` and ``handlers/`` do,
and say with ``TransportError(permanent=…)`` whether another attempt can help.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, cast, runtime_checkable

from sqlalchemy import (
    CursorResult,
    Table,
    and_,
    bindparam,
    exists,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import aliased
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter

from store.db import write_turn
from store.dialect import dialect_name, insert_ignoring_conflicts
from store.models import QueueRow, QueueStatus
from store.types import UTCDateTime, utcnow
from store.wake import QUEUE as QUEUE_CHANNEL
from store.wake import notified_by_statement, notify_column, wake_on_commit

MESSAGE_ID_DOMAIN = "tenderbot"
_CLAIM_WITHOUT_FSYNC = text("SET LOCAL synchronous_commit TO off")
QUEUE = cast(Table, QueueRow.__table__)
_NOTIFY_QUEUE = notify_column(QUEUE_CHANNEL)


class TransportError(Exception):
    """A delivery failed. ``permanent``: no retry can help (dead letter at once);
    ``retry_after``: the service said when to come back (Slack's 429 ``Retry-After``)."""

    def __init__(
        self, message: str, *, permanent: bool = False, retry_after: timedelta | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.retry_after = retry_after


# The longest pause between two tries, as a multiple of the first one: 30 s grow to 30 min.
# A server that comes back gets its rows within that long, and a compressed schedule (a
# smaller first pause) stays the same shape.
CAP_PER_BASE = 60


@dataclass(frozen=True)
class RetryPolicy:
    """When to try again (exponential with jitter), when to give up, how long a lease is.

    Giving up is for rows no retry will help, not for outages: 50 attempts with the pauses
    capped at 30 min last 11 to 22 hours (16 on average), so mail survives an SMTP server or
    Slack being away for a night. 8 attempts (the old count) were used up within 32 to 64
    minutes: an outage of an hour dead-lettered every e-mail queued during it. The count
    still ends a row that kills its worker each time (the claim counts the attempt), after
    50 leases of 30 s.
    """

    max_attempts: int = 50
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(minutes=30)  # base * CAP_PER_BASE
    # How long a claimed row belongs to one worker without a heartbeat; after that a dead
    # worker's rows become claimable again. The heartbeat renews it every third of it.
    lease: timedelta = timedelta(seconds=30)
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    @classmethod
    def starting_at(cls, base: timedelta) -> RetryPolicy:
        """The schedule scaled to a first pause of ``base`` (``TENDERBOT_QUEUE_RETRY_SECONDS``)."""
        return cls(base=base, cap=base * CAP_PER_BASE)

    def gives_up(self, attempts: int) -> bool:
        return attempts >= self.max_attempts

    @property
    def heartbeat(self) -> timedelta:
        return self.lease / 3

    @property
    def send_margin(self) -> timedelta:
        """How much of a lease must remain for a worker to start one more send.

        Past one missed heartbeat (a third) a worker stops: the row could otherwise be
        taken over while its send is still on the wire, and be sent twice.
        """
        return self.lease / 3

    def delay(self, attempts: int, retry_after: timedelta | None = None) -> timedelta:
        """After the n-th failed attempt: base·2^(n-1), capped, between half and all of it.

        The random half spreads retries so a recovered server is not hit by every row at
        the same second; the fixed half keeps a minimum pause. A service's own
        ``Retry-After`` is a lower bound: coming back earlier is refused again.
        """
        ceiling = self.base
        # Doubled step by step up to the cap: base·2^(n-1) itself overflows timedelta long
        # before the last of the attempts.
        for _doubling in range(max(attempts - 1, 0)):
            if ceiling >= self.cap:
                break
            ceiling *= 2
        ceiling = min(ceiling, self.cap)
        half: timedelta = ceiling / 2
        jittered = half + half * self.rng.random()
        if retry_after is not None:
            # A little jitter on top, so the rows a 429 refused do not all return at once.
            return max(jittered, retry_after + retry_after * 0.25 * self.rng.random())
        return jittered


@dataclass(frozen=True)
class Job:
    """A claimed row as plain data, so senders work with no session open."""

    id: int
    kind: str
    recipient: str
    template: str
    context: dict[str, Any]
    message_id: str
    attempts: int
    owner: str
    ordering_key: str | None = None


@runtime_checkable
class Sender(Protocol):
    """Delivers the rows of one kind that need no template rendering (Slack actions)."""

    kind: str

    async def send(self, job: Job) -> None:
        """Deliver or raise TransportError."""
        ...

    async def close(self) -> None: ...


@dataclass(frozen=True)
class Outcome:
    job: Job
    status: QueueStatus  # QueueStatus.PENDING: to be retried
    error: str | None = None
    retry_in: timedelta = timedelta(0)
    # Handed back without an attempt (an earlier row of its ordering key failed): the
    # claim's attempt is taken back, and the row waits for that one as before.
    untried: bool = False


def new_message_id() -> str:
    return f"<{uuid.uuid4().hex}@{MESSAGE_ID_DOMAIN}>"


def new_owner() -> str:
    return uuid.uuid4().hex


def row_values(
    kind: str,
    recipient: str,
    template: str,
    context: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    ordering_key: str | None = None,
    due: datetime | None = None,
) -> dict[str, Any]:
    now = utcnow()
    return {
        "kind": kind,
        "recipient": recipient,
        "template": template,
        "context": context,
        "message_id": new_message_id(),
        "dedupe_key": dedupe_key,
        "ordering_key": ordering_key,
        "status": QueueStatus.PENDING,
        "attempts": 0,
        "next_attempt_at": due or now,
        "created_at": now,
    }


async def enqueue_rows(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Write rows (``row_values``) in the caller's transaction; a row whose dedupe key is
    already queued is skipped. Returns the new rows' ids in insertion order."""
    if not rows:
        return []
    # Rows as execute parameters, not in .values(): SQLAlchemy renders them into one
    # multi-row INSERT either way, but only this form has a cached statement.
    if dialect_name(session) == "postgresql" and not session.in_nested_transaction():
        # The insert itself rings the workers of other processes: the commit then needs
        # no NOTIFY statement of its own, one round trip less for every queuing event.
        statement = insert_ignoring_conflicts(session, QUEUE, returning=(QUEUE.c.id, _NOTIFY_QUEUE))
        notified_by_statement(session, QUEUE_CHANNEL)
    else:
        statement = insert_ignoring_conflicts(session, QUEUE, returning=QUEUE.c.id)
    wake_on_commit(session, QUEUE_CHANNEL)
    if len(rows) == 1:
        row_id = (await session.execute(statement, rows[0])).scalar()
        return [] if row_id is None else [row_id]
    # Ids grow with insertion order, so sorting gives the rows' order.
    return sorted(await session.scalars(statement, list(rows)))


def _earlier_pending() -> Any:
    earlier = aliased(QueueRow)
    return exists().where(
        earlier.ordering_key == QueueRow.ordering_key,
        earlier.status == QueueStatus.PENDING,
        earlier.id < QueueRow.id,
    )


def _due(*, by_id: bool, skip_locked: bool) -> Any:
    """The ids a claim takes, with every value a bound parameter."""
    now: BindParameter[datetime] = bindparam("now", type_=UTCDateTime())
    due = (
        select(QueueRow.id)
        .where(
            QueueRow.status == QueueStatus.PENDING,
            # Rows asked for by id (the request that wrote them) may go before they are due.
            QueueRow.id.in_(bindparam("ids", expanding=True))
            if by_id
            else QueueRow.next_attempt_at <= now,
            or_(QueueRow.lease_until.is_(None), QueueRow.lease_until <= now),
            QueueRow.attempts < bindparam("max_attempts"),
            QueueRow.kind.in_(bindparam("kinds", expanding=True)),
            or_(QueueRow.ordering_key.is_(None), ~_earlier_pending()),
        )
        .order_by(QueueRow.next_attempt_at, QueueRow.id)
        .limit(bindparam("batch"))
    )
    if skip_locked:
        # Rows another worker is claiming right now are skipped, not waited for.
        due = due.with_for_update(skip_locked=True)
    return due.scalar_subquery()


def _lease_statement(which: Any) -> Any:
    return (
        update(QUEUE)
        .where(which)
        .values(
            lease_until=bindparam("lease_until", type_=UTCDateTime()),
            lease_owner=bindparam("owner"),
            attempts=QUEUE.c.attempts + 1,
        )
        .returning(
            QUEUE.c.id,
            QUEUE.c.kind,
            QUEUE.c.recipient,
            QUEUE.c.template,
            QUEUE.c.context,
            QUEUE.c.message_id,
            QUEUE.c.attempts,
            QUEUE.c.ordering_key,
        )
    )


# Built once per variant and kept: building the claim anew (a subquery, a dozen comparisons)
# cost more CPU than the rest of a claim, and a worker woken by every commit claims often.
_CLAIMS = {
    (by_id, skip_locked): _lease_statement(
        QUEUE.c.id.in_(_due(by_id=by_id, skip_locked=skip_locked))
    )
    for by_id in (False, True)
    for skip_locked in (False, True)
}
_LEASE_TAKEN = _lease_statement(QUEUE.c.id.in_(bindparam("taken", expanding=True)))


async def claim_due(
    session: AsyncSession,
    *,
    kinds: Iterable[str],
    batch: int,
    now: datetime,
    policy: RetryPolicy,
    owner: str,
    ids: Sequence[int] | None = None,
) -> list[Job]:
    """Take up to ``batch`` due rows (or those of ``ids``, due or not) for ``owner`` in one
    statement.

    A row whose ordering key has an earlier pending row waits for it, leased or not.
    """
    kinds = list(kinds)  # read twice: by the claim and by its followers
    postgres = dialect_name(session) == "postgresql"
    if postgres:
        # The claim need not wait for the disk either (see OutcomeLog): only a crash of
        # PostgreSQL can undo it, which leaves the rows unleased, to be sent (again, with
        # their Message-IDs) by the next worker, as the lost record of a sent row would.
        await session.execute(_CLAIM_WITHOUT_FSYNC)
    values: dict[str, Any] = {
        "now": now,
        "max_attempts": policy.max_attempts,
        "kinds": kinds,
        "batch": batch,
    }
    if ids is not None:
        values["ids"] = list(ids)
    statement = _CLAIMS[(ids is not None, postgres)]
    claimed = await _lease(session, statement, values, now, policy, owner)
    if ids is None:
        claimed += await _claim_followers(
            session,
            claimed,
            kinds=kinds,
            room=batch - len(claimed),
            now=now,
            policy=policy,
            owner=owner,
        )
    return sorted(claimed, key=lambda job: job.id)


async def _lease(
    session: AsyncSession,
    statement: Any,
    values: dict[str, Any],
    now: datetime,
    policy: RetryPolicy,
    owner: str,
) -> list[Job]:
    parameters = {**values, "lease_until": now + policy.lease, "owner": owner}
    rows = (await session.execute(statement, parameters)).all()
    return [
        Job(
            id=row.id,
            kind=row.kind,
            recipient=row.recipient,
            template=row.template,
            context=dict(row.context),
            message_id=row.message_id,
            attempts=row.attempts,
            owner=owner,
            ordering_key=row.ordering_key,
        )
        for row in rows
    ]


_FOLLOWERS = (
    select(
        QUEUE.c.id,
        QUEUE.c.ordering_key,
        QUEUE.c.kind,
        QUEUE.c.lease_until,
        QUEUE.c.attempts,
    )
    .where(
        QUEUE.c.ordering_key.in_(bindparam("keys", expanding=True)),
        QUEUE.c.status == QueueStatus.PENDING,
        QUEUE.c.id > bindparam("after"),
    )
    .order_by(QUEUE.c.id)
)


async def _claim_followers(
    session: AsyncSession,
    heads: Sequence[Job],
    *,
    kinds: Iterable[str],
    room: int,
    now: datetime,
    policy: RetryPolicy,
    owner: str,
) -> list[Job]:
    """The rows queued behind the claimed heads of their ordering keys, in order, up to
    ``room``: a thread's burst of posts in one claim instead of one claim per post.

    No other worker can hold them (each waits for its key's head, which this claim holds),
    so they are read and leased without skipping anything; a key's run stops at its first
    row this worker may not send now (another kind, its attempts used up, or a live lease
    of a dead worker's claim).
    """
    first = {job.ordering_key: job.id for job in heads if job.ordering_key is not None}
    if not first or room <= 0:
        return []
    allowed = set(kinds)
    rows = await session.execute(_FOLLOWERS, {"keys": list(first), "after": min(first.values())})
    taken: list[int] = []
    stopped: set[str] = set()
    for row in rows:
        key = row.ordering_key
        if key in stopped or row.id <= first[key]:
            continue
        free = row.lease_until is None or row.lease_until <= now
        if row.kind not in allowed or row.attempts >= policy.max_attempts or not free:
            stopped.add(key)
            continue
        taken.append(row.id)
        if len(taken) == room:
            break
    if not taken:
        return []
    return await _lease(session, _LEASE_TAKEN, {"taken": taken}, now, policy, owner)


def failed(job: Job, error: Exception, policy: RetryPolicy) -> Outcome:
    """The outcome of a delivery that raised: retry later, or dead-letter with the reason."""
    if isinstance(error, TransportError):
        if error.permanent:
            return Outcome(job, QueueStatus.DEAD, error.message)
        if policy.gives_up(job.attempts):
            return Outcome(
                job, QueueStatus.DEAD, f"gave up after {job.attempts} attempts: {error.message}"
            )
        return Outcome(
            job, QueueStatus.PENDING, error.message, policy.delay(job.attempts, error.retry_after)
        )
    message = f"unexpected {type(error).__name__}: {error}"
    if policy.gives_up(job.attempts):
        return Outcome(job, QueueStatus.DEAD, message)
    return Outcome(job, QueueStatus.PENDING, message, policy.delay(job.attempts))


_FENCE = and_(
    QUEUE.c.id == bindparam("b_id"),
    # Only the lease holder may record: a worker whose lease expired and was taken over
    # must not overwrite the newer worker's result.
    QUEUE.c.lease_owner == bindparam("b_owner"),
    QUEUE.c.status == QueueStatus.PENDING,
)
_MARK_SENT = (
    update(QUEUE)
    .where(_FENCE)
    .values(
        status=QueueStatus.SENT,
        sent_at=bindparam("b_now", type_=UTCDateTime()),
        lease_until=None,
        lease_owner=None,
        last_error=None,
    )
)
_HAND_BACK = (
    update(QUEUE)
    .where(_FENCE)
    .values(lease_until=None, lease_owner=None, attempts=QUEUE.c.attempts - 1)
)
_MARK_FAILED = (
    update(QUEUE)
    .where(_FENCE)
    .values(
        status=bindparam("b_status"),
        next_attempt_at=bindparam("b_next", type_=UTCDateTime()),
        lease_until=None,
        lease_owner=None,
        last_error=bindparam("b_error"),
    )
)


def _sent_values(outcome: Outcome, now: datetime) -> dict[str, Any]:
    return {"b_id": outcome.job.id, "b_owner": outcome.job.owner, "b_now": now}


def _failed_values(outcome: Outcome, now: datetime) -> dict[str, Any]:
    return {
        "b_id": outcome.job.id,
        "b_owner": outcome.job.owner,
        "b_status": outcome.status,
        "b_next": now + outcome.retry_in,
        "b_error": (outcome.error or "")[:2000],
    }


def _recording(outcome: Outcome, now: datetime) -> tuple[Any, dict[str, Any]]:
    """The statement that records ``outcome`` and its parameters."""
    if outcome.status == QueueStatus.SENT:
        return _MARK_SENT, _sent_values(outcome, now)
    if outcome.untried:
        return _HAND_BACK, {"b_id": outcome.job.id, "b_owner": outcome.job.owner}
    return _MARK_FAILED, _failed_values(outcome, now)


async def record(session: AsyncSession, outcomes: Sequence[Outcome], now: datetime) -> None:
    """Write the outcomes of a batch; executemany, one round trip per statement."""
    by_statement: dict[Any, list[dict[str, Any]]] = {}
    for outcome in outcomes:
        statement, values = _recording(outcome, now)
        by_statement.setdefault(statement, []).append(values)
    for statement, values_list in by_statement.items():
        await session.execute(statement, values_list)


_COMPILED: dict[tuple[object, str], SQLCompiler] = {}


def _compiled(statement: Any, dialect: Any) -> SQLCompiler:
    key = (statement, dialect.name)
    compiled = _COMPILED.get(key)
    if compiled is None:
        compiled = _COMPILED[key] = cast(SQLCompiler, statement.compile(dialect=dialect))
    return compiled


class OutcomeLog:
    """Records outcomes one by one, each committed when ``write`` returns, on one connection
    kept open for a worker's run.

    The worker records every delivery before the next one goes out (at most one e-mail is
    sent twice after a crash), so this runs once per e-mail and must be cheap: one cached
    ``UPDATE`` in autocommit is its own transaction, one round trip, where a session costs
    BEGIN, the statement and COMMIT, and an object per row.

    On PostgreSQL these commits do not wait for the WAL to reach the disk
    (``synchronous_commit = off``), which was most of a delivery's time. That cannot lose an
    outcome to a crash of the worker: the commit is in PostgreSQL's memory once it returns.
    Only a crash of PostgreSQL itself within about a second can undo such a commit (never
    corrupt anything); the row is then pending under a lapsed lease, and is sent again
    with the same Message-ID, as after a worker killed between SMTP accept and recording.
    Nothing is lost: the e-mail's row itself was committed durably by the event.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._connection: AsyncConnection | None = None
        # PostgreSQL: the driver's connection (asyncpg) beneath.
        self._driver: Any = None
        # The kinds of a batch are delivered side by side; their records share this one
        # connection, which runs one statement at a time.
        self._turn = asyncio.Lock()

    async def _connected(self) -> AsyncConnection:
        if self._connection is not None:
            return self._connection
        connection = await self._engine.connect()
        try:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            if self._postgres:
                # For this connection's session; RESET before it returns to the pool.
                await connection.exec_driver_sql("SET synchronous_commit TO off")
                self._driver = (await connection.get_raw_connection()).driver_connection
        except BaseException:
            await connection.invalidate()
            await connection.close()
            raise
        self._connection = connection
        return connection

    async def write(self, outcome: Outcome, now: datetime) -> None:
        async with self._turn:
            await self._write(outcome, now)

    async def _write(self, outcome: Outcome, now: datetime) -> None:
        connection = await self._connected()
        statement, values = _recording(outcome, now)
        try:
            if self._driver is not None:
                await self._execute_prepared(statement, values)
            else:
                async with write_turn(self._engine):
                    await connection.execute(statement, values)
        except BaseException:
            # Broken or cancelled mid-statement: never hand this connection to anyone else.
            self._connection, self._driver = None, None
            await connection.invalidate()
            await connection.close()
            raise

    async def _execute_prepared(self, statement: Any, values: dict[str, Any]) -> None:
        """The same statement on the driver's connection (asyncpg), which keeps it prepared
        for as long as the pooled connection lives: SQLAlchemy's execution path cost more
        CPU than the round trip itself (0.34 against 0.08 ms per record)."""
        compiled = _compiled(statement, self._engine.dialect)
        # The timestamps are aware (UTCDateTime refuses naive ones): asyncpg binds them
        # as they are, so no SQLAlchemy type processing is skipped that matters here.
        parameters = compiled.construct_params(values)
        await self._driver.fetch(
            compiled.string, *(parameters[name] for name in compiled.positiontup or ())
        )

    async def close(self) -> None:
        async with self._turn:
            await self._close()

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        self._driver = None
        if connection is None:
            return
        try:
            if self._postgres:
                await connection.exec_driver_sql("RESET synchronous_commit")
        except BaseException:
            await connection.invalidate()
            raise
        finally:
            await connection.close()


async def renew_leases(session: AsyncSession, owner: str, until: datetime) -> int:
    """The heartbeat: every row this owner still holds stays its own until ``until``."""
    result = await session.execute(
        update(QUEUE)
        .where(QUEUE.c.lease_owner == owner, QUEUE.c.status == QueueStatus.PENDING)
        .values(lease_until=until)
    )
    return cast(CursorResult[Any], result).rowcount


async def release_leases(session: AsyncSession, owner: str) -> int:
    """Give back every row this owner holds, due now (a worker that stops cleanly)."""
    result = await session.execute(
        update(QUEUE)
        .where(QUEUE.c.lease_owner == owner, QUEUE.c.status == QueueStatus.PENDING)
        .values(lease_until=None, lease_owner=None, attempts=QUEUE.c.attempts - 1)
    )
    return cast(CursorResult[Any], result).rowcount


async def unsent(session: AsyncSession, ids: Sequence[int], now: datetime) -> tuple[int, int]:
    """Of the rows ``ids``: how many are not sent, and how many of those a worker holds."""
    rows = (
        await session.execute(
            select(QueueRow.status, QueueRow.lease_until).where(QueueRow.id.in_(list(ids)))
        )
    ).all()
    open_rows = [row for row in rows if row.status != QueueStatus.SENT]
    held = [
        row
        for row in open_rows
        if row.status == QueueStatus.PENDING
        and row.lease_until is not None
        and row.lease_until > now
    ]
    return len(open_rows), len(held)


async def slack_rows_in_flight(
    session: AsyncSession, kinds: Sequence[str], now: datetime, fresh: timedelta
) -> int:
    """Pending rows of ``kinds`` a worker holds, that are due, or that were just written
    (the writing request is about to deliver them)."""
    count = await session.scalar(
        select(func.count())
        .select_from(QueueRow)
        .where(
            QueueRow.status == QueueStatus.PENDING,
            QueueRow.kind.in_(list(kinds)),
            or_(
                QueueRow.lease_until > now,
                QueueRow.next_attempt_at <= now,
                and_(QueueRow.attempts == 0, QueueRow.created_at > now - fresh),
            ),
        )
    )
    return int(count or 0)


@dataclass(frozen=True)
class RecoveredLeases:
    released: int
    dead: list[tuple[int, str, str, str]]  # id, kind, template, reason


async def recover_leases(
    session: AsyncSession, now: datetime, policy: RetryPolicy
) -> RecoveredLeases:
    """Release the leases of workers that died while sending.

    ``claim_due`` already takes expired leases over by itself; this also dead-letters rows
    that used up their attempts that way (e.g. a message that crashes the worker each
    time), or that a lowered ``max_attempts`` left without any, and shows the true state.
    """
    unleased = or_(QUEUE.c.lease_until.is_(None), QUEUE.c.lease_until <= now)
    reason = (
        f"no attempts left (at most {policy.max_attempts}); the last worker "
        "stopped while sending or never got to it"
    )
    dead = await session.execute(
        update(QUEUE)
        .where(
            QUEUE.c.status == QueueStatus.PENDING, unleased, QUEUE.c.attempts >= policy.max_attempts
        )
        .values(
            status=QueueStatus.DEAD,
            lease_until=None,
            lease_owner=None,
            last_error=reason,
        )
        .returning(QUEUE.c.id, QUEUE.c.kind, QUEUE.c.template)
    )
    dead_rows = sorted((row.id, row.kind, row.template, reason) for row in dead)
    released = await session.execute(
        update(QUEUE)
        .where(
            QUEUE.c.status == QueueStatus.PENDING,
            QUEUE.c.lease_until.is_not(None),
            QUEUE.c.lease_until <= now,
        )
        .values(lease_until=None, lease_owner=None)
    )
    return RecoveredLeases(released=cast(CursorResult[Any], released).rowcount, dead=dead_rows)
