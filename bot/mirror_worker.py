"""The thread mirror's delivery worker: posts what Slack refused earlier (rate limit, outage,
archived channel) and what a crash left between the commit and the post.

It is one job on the background scheduler (bot/background.py), so the process starts and
stops it with everything else. Several processes may run it: each round leases its messages.
"""

from __future__ import annotations

import logging
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.scheduler import run_until_shutdown
from handlers.threads_delivery import deliver_pending
from store.types import utcnow
from store.wake import THREAD_DELIVERY

logger = logging.getLogger("tenderbot.mirror")

MIRROR_JOB = "thread_mirror_delivery"
ROUND_SECONDS = 10
BATCH = 50


async def mirror_round(
    sessions: async_sessionmaker[AsyncSession],
    client: AsyncWebClient,
    now: datetime | None = None,
) -> int:
    """Deliver every due message, batch by batch; returns how many arrived."""
    now = now or utcnow()
    delivered = 0
    while True:
        arrived = await deliver_pending(sessions, client, now, limit=BATCH)
        delivered += arrived
        # A short batch means nothing more is due; a full one may have more behind it.
        if arrived < BATCH:
            break
    if delivered:
        logger.info("delivered %d pending thread message(s)", delivered)
    return delivered


def add_mirror_job(
    scheduler: AsyncIOScheduler,
    sessions: async_sessionmaker[AsyncSession],
    client: AsyncWebClient,
    *,
    seconds: int = ROUND_SECONDS,
) -> None:
    async def step() -> None:
        await mirror_round(sessions, client)

    # Runs as long as the scheduler: at once when a transaction leaves a message to this
    # worker (store.wake), and every ``seconds`` for retries that fell due.
    scheduler.add_job(
        run_until_shutdown,
        args=(sessions, THREAD_DELIVERY, step),
        kwargs={"interval": seconds},
        id=MIRROR_JOB,
        name="Thread-Nachrichten nachreichen (M3)",
        next_run_time=utcnow(),
    )
