"""Wiring of the one queue worker: every kind's sender, built from the settings.

``serve``, ``socket``, ``scheduler`` and ``tenderbot queue flush`` all deliver the queue
through ``queue_senders``, so every process that runs a worker handles every kind it has
the credentials for (without a Slack token the Slack rows wait for a process with one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.notifiers import build_notifiers
from bot.settings import Settings
from handlers.cards import CARD_KIND, CardSender
from handlers.threads_delivery import ThreadSender
from notifications import FlushResult, KeptSenders, flush_outbox, recover_leases
from notifications.worker import Deliverer
from store.queue import RetryPolicy, slack_rows_in_flight, unsent
from store.threads import THREAD_KIND
from store.types import utcnow

Step = Callable[[], Awaitable[object]]


def slack_senders(
    sessions: async_sessionmaker[AsyncSession], client: AsyncWebClient
) -> list[Deliverer]:
    """The senders of the Slack actions: cards, card updates and the broker's notices;
    thread posts, their edits and deletions."""
    return [CardSender(sessions, client), ThreadSender(sessions, client)]


# How long the fast path waits for a worker that took its rows first (woken by the commit).
OTHER_WORKER_WAIT = 5.0


async def _not_arrived(sessions: async_sessionmaker[AsyncSession], row_ids: Sequence[int]) -> int:
    """How many of the rows did not arrive; rows another worker is delivering right now
    are waited for a moment, so the writer is not told "not yet" about a post on its way."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + OTHER_WORKER_WAIT
    while True:
        async with sessions() as session:
            left, held = await unsent(session, row_ids, utcnow())
        if not held or loop.time() >= deadline:
            return left
        await asyncio.sleep(0.05)


# The rows the app delivers itself right after its commits (cards, thread posts).
SLACK_ACTIONS = (CARD_KIND, THREAD_KIND)
FRESH = timedelta(seconds=5)


async def wait_for_slack_deliveries(
    sessions: async_sessionmaker[AsyncSession], seconds: float = 10.0
) -> bool:
    """For the demo and the console, which show what Slack shows once the app is done: wait
    while Slack rows are being delivered or about to be (a quiet local Slack alone can mean a
    slow database on a busy machine). True when it had to wait."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    waited = False
    while loop.time() < deadline:
        async with sessions() as session:
            busy = await slack_rows_in_flight(session, SLACK_ACTIONS, utcnow(), FRESH)
        if not busy:
            return waited
        waited = True
        await asyncio.sleep(0.05)
    return waited


def queue_senders(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    client: AsyncWebClient | None,
) -> list[Deliverer]:
    senders: list[Deliverer] = list(build_notifiers(settings, client))
    if client is not None:
        senders.extend(slack_senders(sessions, client))
    return senders


def fast_path(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> Callable[[AsyncWebClient, Sequence[int]], Awaitable[int]]:
    """``Deps.deliver``: the rows a request just committed, delivered before it returns
    (unless an earlier row of the same thread still waits). Returns how many of them did
    not arrive: left for the worker, or dead-lettered."""

    policy = retry_policy(settings)

    async def deliver(client: AsyncWebClient, row_ids: Sequence[int]) -> int:
        settled = 0
        # Again while rows move: a row of these that waited for another (its ordering key)
        # may go once that one is sent or dead; a retried row waits for the worker.
        for _round in range(len(row_ids)):
            result = await flush_outbox(
                sessions,
                slack_senders(sessions, client),
                ids=row_ids,
                batch=len(row_ids),
                keep_open=True,
                dead_letters_to=settings.backoffice_channel,
                policy=policy,
            )
            settled += result.sent + result.dead
            if result.claimed == 0 or result.retried or settled >= len(row_ids):
                break
        return await _not_arrived(sessions, row_ids)

    return deliver


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy.starting_at(timedelta(seconds=settings.queue_retry_seconds))


@dataclass(frozen=True)
class QueueSteps:
    drain: Step
    recover: Step
    # At shutdown, once the drain has stopped: closes the senders' kept connections.
    close: Step


def queue_steps(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    client: AsyncWebClient | None,
    *,
    stopping: Callable[[], bool] = lambda: False,
) -> QueueSteps:
    """The worker's two periodic steps for the scheduler: drain what is due, and free the
    leases of dead workers (dead-lettering rows that used up their attempts that way).
    Once ``stopping()`` the drain claims no further batch (SIGTERM).

    The senders live as long as the worker: one SMTP connection serves drain after drain
    (``KeptSenders``), and ``close`` ends it.
    """
    senders = KeptSenders(queue_senders(settings, sessions, client))
    tell = settings.backoffice_channel
    policy = retry_policy(settings)

    async def drain() -> FlushResult:
        # Drain, not one batch: a burst (the yearly budget notices) must not be capped at
        # one batch per interval.
        return await senders.drain(sessions, dead_letters_to=tell, policy=policy, stopping=stopping)

    async def recover() -> object:
        return await recover_leases(sessions, dead_letters_to=tell, policy=policy)

    return QueueSteps(drain=drain, recover=recover, close=senders.close)
