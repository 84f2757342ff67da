"""Background work that runs next to the Slack app in one process: the schedule and the outbox.

``tenderbot serve`` and ``tenderbot socket`` call ``start_background`` once the event loop
runs and ``stop()`` on shutdown. The queue worker delivers every kind of row (e-mails,
notices, cards, thread posts); further periodic steps belong on the same scheduler so that
one place starts and stops everything.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.queue_worker import queue_steps
from bot.scheduler import build_scheduler
from bot.settings import Settings

logger = logging.getLogger("tenderbot.background")


@dataclass
class Background:
    scheduler: AsyncIOScheduler

    def stop(self) -> None:
        # Jobs in flight are cut off at their next await; the outbox lease makes them retry.
        self.scheduler.shutdown(wait=False)


def start_background(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    client: AsyncWebClient,
) -> Background:
    """Start the schedule (B1–B3, T9, T10) and the outbox flush; call inside the event loop."""
    steps = queue_steps(settings, sessions, client)
    scheduler = build_scheduler(
        settings,
        sessions,
        outbox_flush=steps.drain,
        lease_recovery=steps.recover,
        flush_seconds=settings.queue_poll_seconds,
        recovery_seconds=max(settings.queue_poll_seconds, 10),
    )
    scheduler.start()
    logger.info("background started: %s", ", ".join(job.name for job in scheduler.get_jobs()))
    return Background(scheduler)
