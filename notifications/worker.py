"""The queue worker: claim due rows, deliver them through their kind's sender, record.

One worker for every side effect (``store.queue``): e-mails and Slack notices are rendered
from their templates and handed to a ``Notifier``; Slack actions (cards, thread posts)
go as they are to a ``store.queue.Sender``. Claims are leased to one owner per run; a
heartbeat renews the leases while the run is alive, so a worker killed mid-batch holds
its rows only until the short lease runs out. Sending happens outside any transaction;
each outcome is written as it lands, together with the backoffice's notice when a row
was dead-lettered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from notifications.contract import Delivery, Gate, Notifier, PreparingNotifier, Send
from notifications.render import RenderError, render
from notifications.replies import replies_of
from store import metrics, queue
from store.db import transaction
from store.logcontext import bound
from store.models import QueueKind, QueueStatus
from store.queue import Job, Outcome, RetryPolicy, Sender, failed
from store.types import utcnow

logger = logging.getLogger(__name__)

# A notifier (rendered notices) or a sender (Slack actions) of one queue kind.
Deliverer = Notifier | Sender
Registry = dict[str, Deliverer]
# Told once for each dead-lettered row (the backoffice channel); None: nobody is told.
DEAD_LETTER_TEMPLATE = "dead_letter"
DEAD_LETTER_KIND = QueueKind.SLACK


@dataclass
class FlushResult:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    # Claimed but not sent: the lease could no longer be trusted (they come back when it
    # runs out).
    abandoned: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)

    def add(self, other: FlushResult) -> None:
        self.claimed += other.claimed
        self.sent += other.sent
        self.retried += other.retried
        self.dead += other.dead
        self.abandoned += other.abandoned
        self.errors.extend(other.errors)


@dataclass(frozen=True)
class RecoveredLeases:
    released: int
    dead: int


def kind_of(deliverer: Deliverer) -> str:
    return deliverer.kind if isinstance(deliverer, Sender) else deliverer.channel


Prepare = Callable[[Job], Awaitable[Send]]


def _preparer(deliverer: Deliverer) -> Prepare:
    # Checked once per batch: isinstance on a runtime protocol inspects the class each time.
    if isinstance(deliverer, Sender):
        sender = deliverer

        async def as_is(job: Job) -> Send:
            return partial(_after_gate, partial(sender.send, job))

        return as_is
    notifier = deliverer
    prepare_rendered = (
        notifier.prepare if isinstance(notifier, PreparingNotifier) else _network_only(notifier)
    )

    replies = replies_of(notifier)

    async def rendered(job: Job) -> Send:
        await asyncio.sleep(0)
        reply_to = (
            replies.address_for(job.template, job.recipient, job.context) if replies else None
        )
        try:
            text = render(job.template, job.context, channel=job.kind, reply_to=reply_to)
        except RenderError as error:
            raise _Unrenderable(str(error)) from error
        await asyncio.sleep(0)
        delivery = Delivery(
            row_id=job.id,
            channel=job.kind,
            recipient=job.recipient,
            message_id=job.message_id,
            template=job.template,
            rendered=text,
            reply_to=reply_to,
        )
        return await prepare_rendered(delivery)

    return rendered


async def _after_gate(deliver: Callable[[], Awaitable[None]], gate: Gate) -> None:
    """A delivery that cannot be taken back at any step waits for the gate first."""
    await gate()
    await deliver()


def _network_only(notifier: Notifier) -> Callable[[Delivery], Awaitable[Send]]:
    async def prepare(delivery: Delivery) -> Send:
        return partial(_after_gate, partial(notifier.notify, delivery))

    return prepare


class _Unrenderable(Exception):
    pass


class _NotRecorded(Exception):
    """The outcome of the delivery before could not be recorded: stop before sending more."""


def _failed(job: Job, error: Exception, policy: RetryPolicy) -> Outcome:
    if isinstance(error, _Unrenderable):
        return Outcome(job, QueueStatus.DEAD, f"cannot render: {error}")
    if not isinstance(error, queue.TransportError):
        # A bug in one sender must not leave the other rows of the batch unrecorded.
        logger.exception("sender of %s crashed on queue row %s", job.kind, job.id, exc_info=error)
    return failed(job, error, policy)


async def _prepare(job: Job, prepare: Prepare, policy: RetryPolicy) -> Send | Outcome:
    """Everything of one delivery but the network: render, and the notifier's own work.

    Between the steps the send in flight takes its next SMTP step (MAIL, RCPT, DATA,
    content), so the server never waits for our CPU.
    """
    try:
        return await prepare(job)
    except Exception as error:
        return _failed(job, error, policy)


async def _send(job: Job, send: Send, policy: RetryPolicy, gate: Gate) -> Outcome:
    with bound(queue_row=job.id):
        try:
            await send(gate)
        except _NotRecorded:
            raise
        except Exception as error:
            return _failed(job, error, policy)
    return Outcome(job, QueueStatus.SENT)


def _gate(recorded: asyncio.Task[None] | None) -> Gate:
    """Opens once ``recorded`` (the records of every delivery before) has committed."""

    async def opened() -> None:
        if recorded is None:
            return
        try:
            # Shielded: a send that is cancelled must not cancel the record it waits for.
            await asyncio.shield(recorded)
        except Exception as error:
            raise _NotRecorded(str(error)) from error

    return opened


Record = Callable[[Outcome], Awaitable[None]]


class Lease:
    """Until when this run's leases are known to hold, on the monotonic clock.

    Set from the moment a claim or a renewal was *started* (the database wrote an
    expiry at least that late), so a starved pool or a failing renewal only ever makes
    the worker more careful. Checking it costs a clock read: no query per row.
    """

    def __init__(self, policy: RetryPolicy) -> None:
        self.seconds = policy.lease.total_seconds()
        self.margin = policy.send_margin.total_seconds()
        # Start of the latest renewal that committed.
        self.renewed_at: float | None = None

    def batch(self, claim_started: float, claim_done: float) -> BatchLease:
        return BatchLease(self, claim_started, claim_done)

    def renewed(self, started: float) -> None:
        self.renewed_at = started


class BatchLease:
    """The lease of one claimed batch: from its claim, or from a renewal that began after
    the claim had committed (one that began earlier may not have seen the batch's rows)."""

    def __init__(self, run: Lease, claim_started: float, claim_done: float) -> None:
        self._run = run
        self._claim_started = claim_started
        self._claim_done = claim_done

    def holds(self) -> bool:
        """True while enough of the lease remains to start one more send."""
        run = self._run
        base = self._claim_started
        renewed = run.renewed_at
        if renewed is not None and renewed >= self._claim_done:
            base = max(base, renewed)
        return time.monotonic() + run.margin < base + run.seconds


def _always() -> bool:
    return True


async def _deliver_all(
    jobs: Sequence[Job],
    deliverer: Deliverer,
    policy: RetryPolicy,
    record: Record,
    *,
    keep_open: bool,
    holds: Callable[[], bool] = _always,
) -> list[Outcome]:
    """Send the rows one after another, preparing each while the one before is on the wire.

    Still one delivery in flight at a time over the sender's one connection; only the
    CPU work (render, build, serialise) of the next row fills the wait for the server.
    Each outcome is recorded before the next delivery becomes final: a worker killed at any
    moment leaves at most the one delivery it was recording to be sent again (same
    Message-ID). What can still be taken back overlaps that record: an e-mail's envelope
    and content go to the server while the previous outcome is written, and only its
    closing dot waits for the commit (the gate). One at a time also keeps a thread's posts
    in the order they were claimed.

    No send starts once ``holds()`` says the lease may run out before it ends: another
    worker could by then have taken the row over and sent it too. The rest of the batch
    stays leased and comes back when the lease expires.
    """
    outcomes: list[Outcome] = []
    prepare = _preparer(deliverer)
    in_flight: asyncio.Task[Outcome] | None = None
    # The record of the latest outcome; each record waits for the one before, so the
    # outcomes are written (and listed) in the order of the rows.
    recording: asyncio.Task[None] | None = None

    async def land(previous: asyncio.Task[None] | None, outcome: Outcome) -> None:
        if previous is not None:
            await previous
        await record(outcome)
        outcomes.append(outcome)

    # Ordering keys (threads) whose row in this batch was not sent: the rows behind it go
    # back untried, so no post overtakes the one before it.
    blocked: set[str] = set()

    def start_recording(outcome: Outcome) -> None:
        nonlocal recording
        key = outcome.job.ordering_key
        if key is not None and outcome.status != QueueStatus.SENT:
            blocked.add(key)
        recording = asyncio.create_task(land(recording, outcome))

    async def sent(task: asyncio.Task[Outcome]) -> Outcome:
        try:
            return await task
        except _NotRecorded:
            if recording is not None:
                await recording  # raises the record's own error
            raise

    try:
        for job in jobs:
            key = job.ordering_key
            prepared = await _prepare(job, prepare, policy)
            if in_flight is not None:
                start_recording(await sent(in_flight))
                in_flight = None
            if key is not None and key in blocked:
                start_recording(Outcome(job, QueueStatus.PENDING, untried=True))
                continue
            if isinstance(prepared, Outcome):
                start_recording(prepared)
                continue
            if not holds():
                logger.warning(
                    "the queue lease may run out: %s row(s) of %s left for another worker",
                    len(jobs) - jobs.index(job),
                    job.kind,
                )
                break
            in_flight = asyncio.create_task(_send(job, prepared, policy, _gate(recording)))
        if in_flight is not None:
            start_recording(await sent(in_flight))
            in_flight = None
        if recording is not None:
            await recording
    finally:
        # Cancelled from outside, or a record failed: what is not recorded is sent again
        # once its lease expires.
        for task in (in_flight, recording):
            if task is not None and not task.done():
                task.cancel()
        for task in (in_flight, recording):
            if task is not None:
                with suppress(BaseException):
                    await task
        if not keep_open:
            await deliverer.close()
    return outcomes


def _registry(deliverers: Iterable[Deliverer]) -> Registry:
    registry: Registry = {}
    for deliverer in deliverers:
        kind = kind_of(deliverer)
        if kind in registry:
            raise ValueError(f"two senders for queue kind {kind!r}")
        registry[kind] = deliverer
    return registry


async def _claim(
    sessions: async_sessionmaker[AsyncSession],
    registry: Registry,
    *,
    owner: str,
    batch: int,
    now: datetime | None,
    policy: RetryPolicy,
    ids: Sequence[int] | None = None,
) -> list[Job]:
    async with transaction(sessions, write=True) as session:
        return await queue.claim_due(
            session,
            kinds=registry,
            batch=batch,
            now=now or utcnow(),
            policy=policy,
            owner=owner,
            ids=ids,
        )


class _Recorder:
    """Writes each outcome as it lands: on the worker's own connection (``OutcomeLog``),
    or, for a dead letter the backoffice is told about, in one transaction with the notice."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        now: datetime | None,
        dead_letters_to: str | None,
    ) -> None:
        self._sessions = sessions
        self._now = now
        self._dead_letters_to = dead_letters_to
        engine = sessions.kw.get("bind")
        self._log = queue.OutcomeLog(engine) if isinstance(engine, AsyncEngine) else None

    def _with_notice(self, outcome: Outcome) -> bool:
        return (
            self._dead_letters_to is not None
            and outcome.status == QueueStatus.DEAD
            and outcome.job.template != DEAD_LETTER_TEMPLATE
        )

    async def __call__(self, outcome: Outcome) -> None:
        now = self._now or utcnow()
        if self._log is not None and not self._with_notice(outcome):
            await self._log.write(outcome, now)
        else:
            async with transaction(self._sessions, write=True) as session:
                await queue.record(session, [outcome], now)
                if self._dead_letters_to is not None:
                    await _tell_dead(session, [outcome], self._dead_letters_to)
        _log(outcome)

    async def close(self) -> None:
        if self._log is not None:
            await self._log.close()


def _log(outcome: Outcome) -> None:
    kind = outcome.job.kind
    if outcome.untried:
        return  # the row before it in its thread was logged
    if outcome.status == QueueStatus.SENT:
        metrics.delivered(kind)
        return
    with bound(queue_row=outcome.job.id):
        if outcome.status == QueueStatus.DEAD:
            metrics.dead_lettered(kind, _reason(outcome))
            logger.warning(
                "queue row %s (%s) dead-lettered: %s", outcome.job.id, kind, outcome.error
            )
        else:
            metrics.retried(kind, _reason(outcome))
            logger.info("queue row %s will be retried: %s", outcome.job.id, outcome.error)


def _reason(outcome: Outcome) -> str:
    """A few fixed words for the metrics' ``reason`` label (the error text is in the row)."""
    error = outcome.error or ""
    if error.startswith("unexpected "):
        return "crash"
    if error.startswith("cannot render"):
        return "unrenderable"
    if outcome.status == QueueStatus.DEAD:
        return "attempts_exhausted" if error.startswith("gave up") else "permanent"
    return "transient"


async def _deliver_batch(
    claimed: Sequence[Job],
    registry: Registry,
    policy: RetryPolicy,
    record: Record,
    *,
    keep_open: bool,
    holds: Callable[[], bool] = _always,
) -> FlushResult:
    groups: dict[str, list[Job]] = defaultdict(list)
    for job in claimed:
        groups[job.kind].append(job)
    # E-mail and Slack are independent services: one slow one must not hold up the other.
    per_kind = await asyncio.gather(
        *(
            _deliver_all(jobs, registry[kind], policy, record, keep_open=keep_open, holds=holds)
            for kind, jobs in groups.items()
        )
    )
    result = FlushResult(claimed=len(claimed))
    result.abandoned = len(claimed) - sum(len(outcomes) for outcomes in per_kind)
    for outcomes in per_kind:
        for outcome in outcomes:
            if outcome.status == QueueStatus.SENT:
                result.sent += 1
                continue
            if outcome.status == QueueStatus.DEAD:
                result.dead += 1
            else:
                result.retried += 1
            if not outcome.untried:
                result.errors.append((outcome.job.id, outcome.error or ""))
    return result


async def _tell_dead(session: AsyncSession, outcomes: Sequence[Outcome], channel: str) -> None:
    """One notice per dead-lettered row (its dedupe key), never about a notice of that kind:
    a Slack outage would otherwise feed on itself."""
    rows = [
        queue.row_values(
            DEAD_LETTER_KIND,
            channel,
            DEAD_LETTER_TEMPLATE,
            {
                "row_id": outcome.job.id,
                "kind": outcome.job.kind,
                "template": outcome.job.template,
                "error": (outcome.error or "")[:500],
            },
            dedupe_key=f"dead-letter:{outcome.job.id}",
        )
        for outcome in outcomes
        if outcome.status == QueueStatus.DEAD and outcome.job.template != DEAD_LETTER_TEMPLATE
    ]
    await queue.enqueue_rows(session, rows)


@asynccontextmanager
async def heartbeat(
    sessions: async_sessionmaker[AsyncSession], owner: str, policy: RetryPolicy
) -> AsyncIterator[Lease]:
    """Renew the owner's leases every third of the lease while the block runs; the
    ``Lease`` yielded tells until when they are known to hold."""
    lease = Lease(policy)

    async def beat() -> None:
        interval = policy.heartbeat.total_seconds()
        while True:
            await asyncio.sleep(interval)
            started = time.monotonic()
            try:
                async with transaction(sessions, write=True) as session:
                    await queue.renew_leases(session, owner, utcnow() + policy.lease)
            except Exception:
                # The next beat tries again. Meanwhile the known lease shrinks, and the
                # worker stops starting sends before it could run out under one.
                logger.exception("renewing the queue leases of %s failed", owner)
                continue
            lease.renewed(started)

    task = asyncio.create_task(beat())
    try:
        yield lease
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def flush_outbox(
    sessions: async_sessionmaker[AsyncSession],
    notifiers: Iterable[Deliverer],
    *,
    batch: int = 100,
    now: datetime | None = None,
    policy: RetryPolicy | None = None,
    keep_open: bool = False,
    dead_letters_to: str | None = None,
    ids: Sequence[int] | None = None,
) -> FlushResult:
    """Claim and deliver one batch of due rows (only rows of ``ids`` if given); rows of
    kinds without a sender stay.

    The senders' connections are closed at the end unless ``keep_open``: a caller that
    flushes again right away then closes them itself.
    """
    policy = policy or RetryPolicy()
    registry = _registry(notifiers)
    if not registry:
        return FlushResult()
    owner = queue.new_owner()
    async with heartbeat(sessions, owner, policy) as lease:
        started = time.monotonic()
        claimed = await _claim(
            sessions, registry, owner=owner, batch=batch, now=now, policy=policy, ids=ids
        )
        if not claimed:
            return FlushResult()
        holds = lease.batch(started, time.monotonic()).holds
        record = _Recorder(sessions, now, dead_letters_to)
        try:
            return await _deliver_batch(
                claimed, registry, policy, record, keep_open=keep_open, holds=holds
            )
        finally:
            await record.close()


async def drain_outbox(
    sessions: async_sessionmaker[AsyncSession],
    notifiers: Iterable[Deliverer],
    *,
    batch: int = 100,
    now: datetime | None = None,
    policy: RetryPolicy | None = None,
    dead_letters_to: str | None = None,
    stopping: Callable[[], bool] = lambda: False,
    keep_open: bool = False,
) -> FlushResult:
    """Flush batch after batch until nothing is due (a failed row waits for its backoff).

    Once ``stopping()`` is true (the process got SIGTERM) no further batch is claimed: the
    batch in hand is sent and recorded, so the process leaves no lease behind.

    While one batch is sent, the next one is claimed (only when this one was full); the
    leases keep the batches apart, so no row is in two of them, and one heartbeat keeps
    all of this run's leases alive.

    The senders' connections are closed at the end unless ``keep_open`` (``KeptSenders``
    drains again soon and closes them itself).
    """
    policy = policy or RetryPolicy()
    notifiers = list(notifiers)
    registry = _registry(notifiers)
    total = FlushResult()
    owner = queue.new_owner()
    record = _Recorder(sessions, now, dead_letters_to)
    next_claim: asyncio.Task[tuple[list[Job], BatchLease | None]] | None = None

    try:
        if not registry:
            return total
        async with heartbeat(sessions, owner, policy) as lease:

            async def claim() -> tuple[list[Job], BatchLease | None]:
                started = time.monotonic()
                jobs = await _claim(
                    sessions, registry, owner=owner, batch=batch, now=now, policy=policy
                )
                return jobs, lease.batch(started, time.monotonic())

            claimed, batch_lease = await claim()
            while claimed and batch_lease is not None:
                if len(claimed) == batch and not stopping():
                    next_claim = asyncio.create_task(claim())
                done = await _deliver_batch(
                    claimed, registry, policy, record, keep_open=True, holds=batch_lease.holds
                )
                total.add(done)
                if done.abandoned:
                    # The renewals fail (a starved pool, say): claiming more would only
                    # lease rows this run cannot be sure to keep.
                    break
                claimed, batch_lease = await next_claim if next_claim else ([], None)
                next_claim = None
        return total
    finally:
        if next_claim is not None and not next_claim.done():
            # A claim no one will send: its rows come back when the lease expires.
            next_claim.cancel()
            with suppress(asyncio.CancelledError):
                await next_claim
        await record.close()
        if not keep_open:
            for notifier in notifiers:
                await notifier.close()


# How long a kept connection may sit unused before it is closed rather than used again.
# Mail servers drop idle clients after some minutes (RFC 5321 asks for at least 5; Postfix
# under stress after 10 s); a dropped one is noticed and reopened anyway, but one this
# old is not worth the try.
IDLE_SECONDS = 30.0


class KeptSenders:
    """The senders of a worker that drains again and again (the queue worker of ``serve``
    and ``scheduler``), with their connections kept open from one drain to the next.

    Commits wake the worker often, and each drain would otherwise open its own SMTP
    connection (connect, greeting, EHLO, maybe STARTTLS and AUTH) and QUIT it after a few
    e-mails. A sender reopens a connection the server has dropped (``SmtpNotifier``); a
    connection unused for ``idle_seconds`` is closed before the next drain, and
    ``close`` (at shutdown) closes them all.
    """

    def __init__(
        self,
        senders: Iterable[Deliverer],
        *,
        idle_seconds: float = IDLE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.senders = list(senders)
        self._idle_seconds = idle_seconds
        self._clock = clock
        # When the latest drain that claimed a row ended; None: nothing is open.
        self._used_at: float | None = None
        # A drain and the closing never overlap: QUIT must not cut into an e-mail.
        self._turn = asyncio.Lock()

    async def drain(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        batch: int = 100,
        policy: RetryPolicy | None = None,
        dead_letters_to: str | None = None,
        stopping: Callable[[], bool] = lambda: False,
    ) -> FlushResult:
        """``drain_outbox`` with these senders, leaving their connections open."""
        async with self._turn:
            if self._used_at is not None and self._clock() - self._used_at >= self._idle_seconds:
                await self._close()
            # A drain that fails may have opened a connection too.
            used = True
            try:
                result = await drain_outbox(
                    sessions,
                    self.senders,
                    batch=batch,
                    policy=policy,
                    dead_letters_to=dead_letters_to,
                    stopping=stopping,
                    keep_open=True,
                )
                # The polls in between claim nothing: they must not keep a connection young.
                used = result.claimed > 0
            finally:
                if used:
                    self._used_at = self._clock()
            return result

    async def close(self) -> None:
        async with self._turn:
            await self._close()

    async def _close(self) -> None:
        self._used_at = None
        for sender in self.senders:
            try:
                await sender.close()
            except Exception:
                # One sender's trouble at closing must not keep the others open.
                logger.exception("closing the sender of %s failed", kind_of(sender))


async def recover_leases(
    sessions: async_sessionmaker[AsyncSession],
    *,
    now: datetime | None = None,
    policy: RetryPolicy | None = None,
    dead_letters_to: str | None = None,
) -> RecoveredLeases:
    """Release the leases of workers that died while sending, and dead-letter the rows that
    used up their attempts that way (``store.queue.recover_leases``)."""
    policy = policy or RetryPolicy()
    async with transaction(sessions) as session:
        recovered = await queue.recover_leases(session, now or utcnow(), policy)
        for _row_id, kind, _template, _error in recovered.dead:
            # The last worker died with the row leased (or never got to it) on its last try.
            metrics.dead_lettered(kind, "abandoned")
        if dead_letters_to is not None and recovered.dead:
            await queue.enqueue_rows(
                session,
                [
                    queue.row_values(
                        DEAD_LETTER_KIND,
                        dead_letters_to,
                        DEAD_LETTER_TEMPLATE,
                        {"row_id": row_id, "kind": kind, "template": template, "error": error},
                        dedupe_key=f"dead-letter:{row_id}",
                    )
                    for row_id, kind, template, error in recovered.dead
                    if template != DEAD_LETTER_TEMPLATE
                ],
            )
    return RecoveredLeases(released=recovered.released, dead=len(recovered.dead))
