"""The outbox worker: claim due rows atomically, send them, record the outcome.

Claiming is one ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING``: a row
gets a lease and one more attempt in the same statement, so two workers (or replicas)
never hold the same row. A worker that dies leaves its lease to expire, after which the
row is claimable again; the fixed Message-ID lets a receiver recognise that rare resend.
Sending happens outside any transaction; the outcomes of a batch are written in one.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import CursorResult, Table, and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications.contract import Delivery, Notifier, PreparingNotifier, Send, TransportError
from notifications.render import RenderError, render
from notifications.retry import RetryPolicy
from store.db import transaction
from store.dialect import dialect_name
from store.models import OutboxRow
from store.types import UTCDateTime, utcnow

logger = logging.getLogger(__name__)
OUTBOX = cast(Table, OutboxRow.__table__)
PENDING, SENT, DEAD = "pending", "sent", "dead"


@dataclass(frozen=True)
class Claimed:
    id: int
    channel: str
    recipient: str
    template: str
    context: dict[str, Any]
    message_id: str
    attempts: int
    lease_until: datetime


@dataclass
class FlushResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def add(self, other: FlushResult) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.dead += other.dead
        self.errors.extend(other.errors)


@dataclass(frozen=True)
class RecoveredLeases:
    released: int
    dead: int


@dataclass(frozen=True)
class _Outcome:
    row: Claimed
    status: str  # SENT | PENDING (retry) | DEAD
    error: str | None = None
    retry_in: timedelta = timedelta(0)


async def claim_due(
    session: AsyncSession,
    *,
    channels: Iterable[str],
    batch: int,
    now: datetime,
    policy: RetryPolicy,
) -> list[Claimed]:
    """Take up to ``batch`` due rows for this worker in one statement."""
    lease_until = now + policy.lease
    due = (
        select(OutboxRow.id)
        .where(
            OutboxRow.status == PENDING,
            OutboxRow.next_attempt_at <= now,
            or_(OutboxRow.lease_until.is_(None), OutboxRow.lease_until <= now),
            OutboxRow.attempts < policy.max_attempts,
            OutboxRow.channel.in_(list(channels)),
        )
        .order_by(OutboxRow.next_attempt_at, OutboxRow.id)
        .limit(batch)
    )
    if dialect_name(session) == "postgresql":
        # Rows another worker is claiming right now are skipped, not waited for.
        due = due.with_for_update(skip_locked=True)
    statement = (
        update(OUTBOX)
        .where(OUTBOX.c.id.in_(due.scalar_subquery()))
        .values(lease_until=lease_until, attempts=OUTBOX.c.attempts + 1)
        .returning(
            OUTBOX.c.id,
            OUTBOX.c.channel,
            OUTBOX.c.recipient,
            OUTBOX.c.template,
            OUTBOX.c.context,
            OUTBOX.c.message_id,
            OUTBOX.c.attempts,
        )
    )
    rows = (await session.execute(statement)).all()
    claimed = [
        Claimed(
            id=row.id,
            channel=row.channel,
            recipient=row.recipient,
            template=row.template,
            context=dict(row.context),
            message_id=row.message_id,
            attempts=row.attempts,
            lease_until=lease_until,
        )
        for row in rows
    ]
    return sorted(claimed, key=lambda row: row.id)


def _failed(row: Claimed, error: Exception, policy: RetryPolicy, channel: str) -> _Outcome:
    if isinstance(error, TransportError):
        if error.permanent:
            return _Outcome(row, DEAD, error.message)
        if policy.gives_up(row.attempts):
            return _Outcome(row, DEAD, f"gave up after {row.attempts} attempts: {error.message}")
        return _Outcome(row, PENDING, error.message, policy.delay(row.attempts))
    # A bug in one notifier must not leave the other rows of the batch unrecorded.
    logger.exception("notifier %s crashed on outbox row %s", channel, row.id, exc_info=error)
    message = f"unexpected {type(error).__name__}: {error}"
    if policy.gives_up(row.attempts):
        return _Outcome(row, DEAD, message)
    return _Outcome(row, PENDING, message, policy.delay(row.attempts))


Prepare = Callable[[Delivery], Awaitable[Send]]


def _preparer(notifier: Notifier) -> Prepare:
    # Checked once per batch: isinstance on a runtime protocol inspects the class each time.
    if isinstance(notifier, PreparingNotifier):
        return notifier.prepare

    async def network_only(delivery: Delivery) -> Send:
        return partial(notifier.notify, delivery)

    return network_only


async def _prepare(
    row: Claimed, notifier: Notifier, prepare: Prepare, policy: RetryPolicy, *, overlapping: bool
) -> Send | _Outcome:
    """Everything of one delivery but the network: render, and the notifier's own work.

    ``overlapping``: a send is in flight; each step then first lets it take its next
    SMTP step (MAIL, RCPT, DATA, content), so the server never waits for our CPU.
    """
    if overlapping:
        await asyncio.sleep(0)
    try:
        rendered = render(row.template, row.context, channel=row.channel)
    except RenderError as error:
        return _Outcome(row, DEAD, f"cannot render: {error}")
    if overlapping:
        await asyncio.sleep(0)
    delivery = Delivery(
        row_id=row.id,
        channel=row.channel,
        recipient=row.recipient,
        message_id=row.message_id,
        template=row.template,
        rendered=rendered,
    )
    try:
        return await prepare(delivery)
    except Exception as error:
        return _failed(row, error, policy, notifier.channel)


async def _send(row: Claimed, send: Send, notifier: Notifier, policy: RetryPolicy) -> _Outcome:
    try:
        await send()
    except Exception as error:
        return _failed(row, error, policy, notifier.channel)
    return _Outcome(row, SENT)


async def _deliver_all(
    rows: Sequence[Claimed], notifier: Notifier, policy: RetryPolicy, *, keep_open: bool
) -> list[_Outcome]:
    """Send the rows one after another, preparing each while the one before is on the wire.

    Still one delivery in flight at a time over the notifier's one connection; only the
    CPU work (render, build, serialise) of the next row fills the wait for the server.
    """
    outcomes: list[_Outcome] = []
    prepare = _preparer(notifier)
    in_flight: asyncio.Task[_Outcome] | None = None
    try:
        for row in rows:
            prepared = await _prepare(
                row, notifier, prepare, policy, overlapping=in_flight is not None
            )
            if in_flight is not None:
                outcomes.append(await in_flight)
                in_flight = None
            if isinstance(prepared, _Outcome):
                outcomes.append(prepared)
                continue
            in_flight = asyncio.create_task(_send(row, prepared, notifier, policy))
        if in_flight is not None:
            outcomes.append(await in_flight)
            in_flight = None
    finally:
        if in_flight is not None:
            # Cancelled from outside: the row's lease expires and it is sent again later.
            in_flight.cancel()
            with suppress(asyncio.CancelledError):
                await in_flight
        if not keep_open:
            await notifier.close()
    return outcomes


_FENCE = and_(
    OUTBOX.c.id == bindparam("b_id"),
    # Only the lease holder may record: a worker whose lease expired and was taken over
    # must not overwrite the newer worker's result.
    OUTBOX.c.lease_until == bindparam("b_lease", type_=UTCDateTime()),
    OUTBOX.c.status == PENDING,
)
_MARK_SENT = (
    update(OUTBOX)
    .where(_FENCE)
    .values(
        status=SENT,
        sent_at=bindparam("b_now", type_=UTCDateTime()),
        lease_until=None,
        last_error=None,
    )
)
_MARK_FAILED = (
    update(OUTBOX)
    .where(_FENCE)
    .values(
        status=bindparam("b_status"),
        next_attempt_at=bindparam("b_next", type_=UTCDateTime()),
        lease_until=None,
        last_error=bindparam("b_error"),
    )
)


async def _record(session: AsyncSession, outcomes: Sequence[_Outcome], now: datetime) -> None:
    sent = [
        {"b_id": o.row.id, "b_lease": o.row.lease_until, "b_now": now}
        for o in outcomes
        if o.status == SENT
    ]
    failed = [
        {
            "b_id": o.row.id,
            "b_lease": o.row.lease_until,
            "b_status": o.status,
            "b_next": now + o.retry_in,
            "b_error": (o.error or "")[:2000],
        }
        for o in outcomes
        if o.status != SENT
    ]
    # executemany: one round trip per statement, not one per row.
    if sent:
        await session.execute(_MARK_SENT, sent)
    if failed:
        await session.execute(_MARK_FAILED, failed)


def _by_channel(notifiers: Iterable[Notifier]) -> dict[str, Notifier]:
    registry: dict[str, Notifier] = {}
    for notifier in notifiers:
        if notifier.channel in registry:
            raise ValueError(f"two notifiers for channel {notifier.channel!r}")
        registry[notifier.channel] = notifier
    return registry


async def _claim(
    sessions: async_sessionmaker[AsyncSession],
    registry: dict[str, Notifier],
    *,
    batch: int,
    now: datetime | None,
    policy: RetryPolicy,
) -> list[Claimed]:
    async with transaction(sessions) as session:
        return await claim_due(
            session, channels=registry, batch=batch, now=now or utcnow(), policy=policy
        )


async def _deliver_batch(
    claimed: Sequence[Claimed],
    registry: dict[str, Notifier],
    policy: RetryPolicy,
    *,
    keep_open: bool,
) -> list[_Outcome]:
    groups: dict[str, list[Claimed]] = defaultdict(list)
    for row in claimed:
        groups[row.channel].append(row)
    # E-mail and Slack are independent services: one slow one must not hold up the other.
    per_channel = await asyncio.gather(
        *(
            _deliver_all(rows, registry[channel], policy, keep_open=keep_open)
            for channel, rows in groups.items()
        )
    )
    return [outcome for outcomes in per_channel for outcome in outcomes]


async def _record_batch(
    sessions: async_sessionmaker[AsyncSession], outcomes: Sequence[_Outcome], now: datetime | None
) -> FlushResult:
    async with transaction(sessions) as session:
        await _record(session, outcomes, now or utcnow())
    result = FlushResult(claimed=len(outcomes))
    for outcome in outcomes:
        if outcome.status == SENT:
            result.sent += 1
            continue
        if outcome.status == DEAD:
            result.dead += 1
            logger.warning("outbox row %s dead-lettered: %s", outcome.row.id, outcome.error)
        else:
            result.retried += 1
            logger.info("outbox row %s will be retried: %s", outcome.row.id, outcome.error)
        result.errors.append((outcome.row.id, outcome.error or ""))
    return result


async def flush_outbox(
    sessions: async_sessionmaker[AsyncSession],
    notifiers: Iterable[Notifier],
    *,
    batch: int = 100,
    now: datetime | None = None,
    policy: RetryPolicy | None = None,
    keep_open: bool = False,
) -> FlushResult:
    """Claim and send one batch of due rows; rows of channels without a notifier stay.

    The notifiers' connections are closed at the end unless ``keep_open``: a caller that
    flushes again right away then closes them itself.
    """
    policy = policy or RetryPolicy()
    registry = _by_channel(notifiers)
    if not registry:
        return FlushResult()
    claimed = await _claim(sessions, registry, batch=batch, now=now, policy=policy)
    if not claimed:
        return FlushResult()
    outcomes = await _deliver_batch(claimed, registry, policy, keep_open=keep_open)
    return await _record_batch(sessions, outcomes, now)


async def _finish(task: asyncio.Task[Any] | None) -> None:
    # A claim no one will send: its rows come back when the lease expires.
    if task is not None and not task.done():
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def drain_outbox(
    sessions: async_sessionmaker[AsyncSession],
    notifiers: Iterable[Notifier],
    *,
    batch: int = 100,
    now: datetime | None = None,
    policy: RetryPolicy | None = None,
) -> FlushResult:
    """Flush batch after batch until nothing is due (a failed row waits for its backoff).

    The database work overlaps the sending: while one batch is sent, the next one is
    claimed (only when this one was full) and the one before is recorded. The leases keep
    the batches apart, so no row is in two of them.
    """
    policy = policy or RetryPolicy()
    notifiers = list(notifiers)
    registry = _by_channel(notifiers)
    total = FlushResult()
    next_claim: asyncio.Task[list[Claimed]] | None = None
    recording: asyncio.Task[FlushResult] | None = None
    try:
        if not registry:
            return total
        claimed = await _claim(sessions, registry, batch=batch, now=now, policy=policy)
        while claimed:
            if len(claimed) == batch:
                next_claim = asyncio.create_task(
                    _claim(sessions, registry, batch=batch, now=now, policy=policy)
                )
            outcomes = await _deliver_batch(claimed, registry, policy, keep_open=True)
            if recording is not None:
                total.add(await recording)
            recording = asyncio.create_task(_record_batch(sessions, outcomes, now))
            claimed, next_claim = (await next_claim if next_claim else []), None
        if recording is not None:
            total.add(await recording)
            recording = None
        return total
    finally:
        await _finish(next_claim)
        if recording is not None and not recording.done():
            # These e-mails are out: record them even though a later batch failed, or
            # they would be sent again once their leases expire.
            try:
                await recording
            except Exception:
                logger.exception("recording the outcomes of a sent batch failed")
        for notifier in notifiers:
            await notifier.close()


async def recover_leases(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime | None = None,
    policy: RetryPolicy | None = None,
) -> RecoveredLeases:
    """Release the leases of workers that died while sending.

    ``flush_outbox`` already reclaims expired leases by itself; this also dead-letters
    rows that used up their attempts that way (e.g. a message that crashes the worker
    each time), or that a lowered ``max_attempts`` left without any, and makes
    ``tenderbot outbox`` show the true state.
    """
    policy = policy or RetryPolicy()
    moment = now or utcnow()
    unleased = or_(OUTBOX.c.lease_until.is_(None), OUTBOX.c.lease_until <= moment)
    expired = and_(
        OUTBOX.c.status == PENDING,
        OUTBOX.c.lease_until.is_not(None),
        OUTBOX.c.lease_until <= moment,
    )
    async with transaction(sessions) as session:
        dead = await session.execute(
            update(OUTBOX)
            .where(
                OUTBOX.c.status == PENDING,
                unleased,
                OUTBOX.c.attempts >= policy.max_attempts,
            )
            .values(
                status=DEAD,
                lease_until=None,
                last_error=(
                    f"no attempts left (at most {policy.max_attempts}); the last worker "
                    "stopped while sending or never got to it"
                ),
            )
        )
        released = await session.execute(update(OUTBOX).where(expired).values(lease_until=None))
    return RecoveredLeases(
        released=cast(CursorResult[Any], released).rowcount,
        dead=cast(CursorResult[Any], dead).rowcount,
    )
