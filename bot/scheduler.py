"""The background schedule: yearly budget (B1–B3), expiry reminders (T10), backoffice
follow-up (T9) and the outbox, wired onto one APScheduler 3 ``AsyncIOScheduler``.

Nothing here decides a rule: each step opens one transaction and calls the store service.
Every step is safe to run more often than planned (job_runs row, outbox dedupe keys), so
several replicas may run this schedule and a restart simply runs the due steps again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, time
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from pricing.formats import format_cents
from store import metrics, wake
from store.db import transaction
from store.distribution import (
    DistributionResult,
    distribute_if_due,
    queue_distribution_notices,
)
from store.reminders import (
    FollowupResult,
    ReminderResult,
    backoffice_followup,
    remind_expiring_offers,
)
from store.types import utcnow
from store.wake import run_when_woken

log = logging.getLogger("tenderbot.scheduler")

Step = Callable[[], Awaitable[object]]

# Local (settings.timezone) wall-clock times; the cron triggers keep them across DST changes.
DISTRIBUTION_TIME = time(0, 5)
REMINDER_TIME = time(8, 0)

DISTRIBUTION_JOB = "budget_distribution"
EXPIRY_JOB = "offer_expiry_reminders"
FOLLOWUP_JOB = "backoffice_followup"
FLUSH_JOB = "outbox_flush"
RECOVERY_JOB = "outbox_lease_recovery"

JOB_DEFAULTS: dict[str, Any] = {
    # A step that was missed (loop busy, laptop asleep) runs once, not once per missed slot.
    "coalesce": True,
    "max_instances": 1,
    "misfire_grace_time": 6 * 3600,
}


async def run_budget_distribution(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    now: datetime | None = None,
) -> DistributionResult | None:
    async with transaction(sessions) as session:
        result = await distribute_if_due(
            session,
            settings.budget_month_day,
            settings.zone,
            now=now,
            backoffice_channel=settings.backoffice_channel,
        )
    metrics.budget_run(
        "not_due"
        if result is None
        else "distributed"
        if result.ran
        else "waiting"
        if result.waiting
        else "already_distributed"
    )
    if result is not None and result.waiting:
        log.warning(
            "budget %s waits: no FIV figures of %s imported yet (tenderbot fiv import)",
            result.year,
            result.base_year,
        )
    if result is not None and result.ran:
        log.info(
            "budget %s distributed: %s brokers, %s in total, %s negative balances offset, "
            "%s unknown broker numbers in the FIV figures of %s",
            result.year,
            result.brokers,
            format_cents(result.total_cents),
            result.negative_offset,
            result.unknown_count,
            result.base_year,
        )
        if result.unknown_numbers:
            log.warning(
                "FIV figures %s without a broker (not credited): %s",
                result.base_year,
                ", ".join(number for number, _total in result.unknown_numbers),
            )
    # Also after a crash between the bookings and their notices: this step runs at every
    # start, so the notices left over are queued then.
    notices = await queue_distribution_notices(sessions, now=now)
    if notices:
        log.info("budget notices queued: %s outbox rows", notices)
    return result


async def run_expiry_reminders(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    now: datetime | None = None,
) -> ReminderResult:
    today = (now or utcnow()).astimezone(settings.zone).date()
    async with transaction(sessions) as session:
        result = await remind_expiring_offers(
            session, today, settings.reminder_days, contact=settings.contact
        )
    if result.offers:
        log.info("expiry reminders queued for %s offers (%s rows)", result.offers, result.rows)
    return result


async def run_backoffice_followup(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    now: datetime | None = None,
) -> FollowupResult:
    async with transaction(sessions) as session:
        result = await backoffice_followup(
            session,
            now or utcnow(),
            settings.zone,
            workdays=settings.followup_workdays,
            channel=settings.backoffice_channel,
        )
    if result.queued:
        log.info("backoffice follow-up queued for %s", ", ".join(result.references))
    return result


async def run_daily_steps(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    now: datetime | None = None,
) -> tuple[DistributionResult | None, ReminderResult, FollowupResult]:
    """All date-driven steps once, for ``tenderbot scheduler --once`` and start-up."""
    return (
        await run_budget_distribution(settings, sessions, now),
        await run_expiry_reminders(settings, sessions, now),
        await run_backoffice_followup(settings, sessions, now),
    )


def _catch_up(now: datetime, at: time) -> dict[str, Any]:
    """Run at start as well if today's slot has passed: the process may have been down."""
    return {"next_run_time": now} if now.time() >= at else {}


async def run_until_shutdown(
    sessions: async_sessionmaker[AsyncSession],
    channel: str,
    step: Step,
    *,
    interval: float,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """A queue worker as one scheduler job: ``store.wake.run_when_woken`` until the process
    stops (``stopping()``, then a wake) or the scheduler's shutdown cancels it, which ends
    the job quietly instead of as an error."""
    with contextlib.suppress(asyncio.CancelledError):
        await run_when_woken(sessions, channel, step, interval=interval, stopping=stopping)


def build_scheduler(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    outbox_flush: Step | None = None,
    lease_recovery: Step | None = None,
    flush_seconds: float = 10,
    recovery_seconds: float = 60,
    now: datetime | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> AsyncIOScheduler:
    """The schedule, not yet started: call ``.start()`` inside the running event loop.

    ``outbox_flush`` / ``lease_recovery`` are the notifications worker's steps (e.g.
    ``lambda: flush_outbox(sessions, notifiers)``); without them the outbox is left to
    whoever else runs the worker.
    """
    zone = settings.zone
    now = (now or utcnow()).astimezone(zone)
    scheduler = AsyncIOScheduler(timezone=zone, job_defaults=JOB_DEFAULTS)

    async def distribution() -> None:
        await run_budget_distribution(settings, sessions)

    async def expiry() -> None:
        await run_expiry_reminders(settings, sessions)

    async def followup() -> None:
        await run_backoffice_followup(settings, sessions)

    scheduler.add_job(
        distribution,
        # Hourly, not nightly: a year waiting for its FIV figures (B2) runs within the hour
        # of their import even when nobody runs `tenderbot fiv import` on this host.
        CronTrigger(minute=DISTRIBUTION_TIME.minute, timezone=zone),
        id=DISTRIBUTION_JOB,
        name="Konzeptrabatt-Budget (B1–B3)",
        # Always at start: the step itself knows whether the budget day has come (catch-up).
        next_run_time=now,
    )
    scheduler.add_job(
        expiry,
        CronTrigger(hour=REMINDER_TIME.hour, minute=REMINDER_TIME.minute, timezone=zone),
        id=EXPIRY_JOB,
        name="Ablauf-Erinnerungen (T10)",
        **_catch_up(now, REMINDER_TIME),
    )
    scheduler.add_job(
        followup,
        CronTrigger(
            day_of_week="mon-fri",
            hour=REMINDER_TIME.hour,
            minute=REMINDER_TIME.minute,
            timezone=zone,
        ),
        id=FOLLOWUP_JOB,
        name="Backoffice-Nachfassen (T9)",
        **_catch_up(now, REMINDER_TIME),
    )
    if outbox_flush is not None:
        # One job that runs as long as the scheduler: it flushes when a transaction that
        # queued a notification commits (store.wake), and every flush_seconds as a safety net.
        scheduler.add_job(
            run_until_shutdown,
            args=(sessions, wake.QUEUE, outbox_flush),
            kwargs={"interval": flush_seconds, "stopping": stopping},
            id=FLUSH_JOB,
            name=f"Outbox senden (nach jedem Commit, sonst alle {flush_seconds:g} s)",
            next_run_time=now,
        )
    if lease_recovery is not None:
        scheduler.add_job(
            lease_recovery,
            IntervalTrigger(seconds=recovery_seconds, timezone=zone),
            id=RECOVERY_JOB,
            name="Outbox-Leases freigeben",
        )
    return scheduler
