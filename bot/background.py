"""Background work that runs next to the Slack app in one process: the schedule and the outbox.

``tenderbot serve``, ``tenderbot socket`` and ``tenderbot scheduler`` start it once the event
loop runs and ``await stop()`` on shutdown. The queue worker delivers every kind of row
(e-mails, notices, cards, thread posts); further periodic steps belong on the same scheduler
so that one place starts and stops everything.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from apscheduler.events import (
    EVENT_JOB_ERROR,
    EVENT_JOB_EXECUTED,
    EVENT_JOB_MISSED,
    JobExecutionEvent,
)
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.util import iscoroutinefunction_partial
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.inflight import InFlight
from bot.queue_worker import queue_steps
from bot.scheduler import build_scheduler
from bot.settings import Settings
from store import metrics, wake
from store.logcontext import bound

logger = logging.getLogger("tenderbot.background")

# SIGTERM: a running job finishes the batch it holds (sent and recorded, no lease left
# behind) and takes no other; after this long it is cut off and its lease runs out instead.
JOB_GRACE_SECONDS = 6.0
# Then the worker's kept connections are closed (QUIT), for at most this long.
CLOSE_SECONDS = 1.0


async def _nothing() -> None:
    return None


@dataclass
class Background:
    scheduler: AsyncIOScheduler
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    running: InFlight = field(default_factory=InFlight)
    # Runs once the jobs have ended: the queue worker's kept connections (QueueSteps.close).
    close: Callable[[], Awaitable[object]] = _nothing

    def start(self) -> None:
        for job in self.scheduler.get_jobs():
            # Synchronous jobs run in APScheduler's threads and hold no queue lease.
            if iscoroutinefunction_partial(job.func):
                job.modify(func=_tracked(job.func, job.id, self.running))
        self.scheduler.add_listener(
            _count_outcome, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR | EVENT_JOB_MISSED
        )
        self.scheduler.start()

    async def stop(self, grace_seconds: float = JOB_GRACE_SECONDS) -> None:
        self.stopping.set()
        if self.scheduler.running:
            self.scheduler.pause()
        # The queue worker waits for the next commit; woken now, it sees ``stopping``.
        wake.wake(wake.QUEUE)
        if len(self.running):
            logger.info("shutdown: waiting for %d running job(s)", len(self.running))
        await self.running.drain(grace_seconds)
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        try:
            await asyncio.wait_for(self.close(), CLOSE_SECONDS)
        except Exception:
            # The process ends anyway; a server that does not answer QUIT drops us then.
            logger.exception("shutdown: closing the queue worker's connections failed")


def _tracked(
    func: Callable[..., Awaitable[object]], job_id: str, running: InFlight
) -> Callable[..., Awaitable[object]]:
    @functools.wraps(func)
    async def job(*args: object, **kwargs: object) -> object:
        running.track_current()
        with bound(job=job_id):
            return await func(*args, **kwargs)

    return job


def _count_outcome(event: JobExecutionEvent) -> None:
    outcome = {EVENT_JOB_EXECUTED: "ok", EVENT_JOB_ERROR: "error"}.get(event.code, "missed")
    metrics.job_finished(event.job_id, outcome)


def start_background(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    client: AsyncWebClient | None,
) -> Background:
    """Start the schedule (B1–B3, T9, T10) and the outbox flush; call inside the event loop."""
    stopping = asyncio.Event()
    steps = queue_steps(settings, sessions, client, stopping=stopping.is_set)
    scheduler = build_scheduler(
        settings,
        sessions,
        outbox_flush=steps.drain,
        lease_recovery=steps.recover,
        flush_seconds=settings.queue_poll_seconds,
        recovery_seconds=max(settings.queue_poll_seconds, 10),
        stopping=stopping.is_set,
    )
    background = Background(scheduler, stopping, close=steps.close)
    background.start()
    logger.info("background started: %s", ", ".join(job.name for job in scheduler.get_jobs()))
    return background
