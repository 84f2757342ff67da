"""Wiring of the one queue worker: every kind's sender, built from the settings.

``serve``, ``socket``, ``scheduler`` and ``tenderbot queue flush`` all deliver the queue
through ``queue_senders``, so every process that runs a worker handles every kind it has
the credentials for (without a Slack token the Slack rows wait for a process with one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.common import database
from bot.notifiers import build_notifiers, slack_client_for
from bot.settings import Settings
from notifications import FlushResult, drain_outbox, recover_leases
from notifications.worker import Deliverer

Step = Callable[[], Awaitable[object]]


def queue_senders(settings: Settings, client: AsyncWebClient | None) -> list[Deliverer]:
    senders: list[Deliverer] = list(build_notifiers(settings, client))
    return senders


@dataclass(frozen=True)
class QueueSteps:
    drain: Step
    recover: Step


def queue_steps(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    client: AsyncWebClient | None,
) -> QueueSteps:
    """The worker's two periodic steps for the scheduler: drain what is due, and free the
    leases of dead workers (dead-lettering rows that used up their attempts that way)."""
    senders = queue_senders(settings, client)
    tell = settings.backoffice_channel

    async def drain() -> FlushResult:
        # Drain, not one batch: a burst (the yearly budget notices) must not be capped at
        # one batch per interval; one SMTP connection serves the whole drain.
        return await drain_outbox(sessions, senders, dead_letters_to=tell)

    async def recover() -> object:
        return await recover_leases(sessions, dead_letters_to=tell)

    return QueueSteps(drain=drain, recover=recover)


async def flush_everything(settings: Settings, *, batch: int = 100) -> FlushResult:
    """`tenderbot queue flush`: free dead workers' leases, then deliver all that is due."""
    async with database(settings) as sessions:
        await recover_leases(sessions, dead_letters_to=settings.backoffice_channel)
        senders = queue_senders(settings, slack_client_for(settings))
        return await drain_outbox(
            sessions, senders, batch=batch, dead_letters_to=settings.backoffice_channel
        )
