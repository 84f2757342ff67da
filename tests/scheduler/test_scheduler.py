"""The schedule itself: when each step fires, and catch-up at start after downtime."""

from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta

import time_machine
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, JobExecutionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.scheduler import (
    DISTRIBUTION_JOB,
    EXPIRY_JOB,
    FOLLOWUP_JOB,
    Step,
    build_scheduler,
)
from bot.settings import Settings
from store.db import transaction
from store.models import Broker
from store.outbox import enqueue
from tests.scheduler.conftest import BERLIN, balance_cents, berlin, import_rows, outbox

ANNA_2025 = ("4711;2025;sach;1;10.000,00",)  # → 300,00 €


def fire_times(
    scheduler: AsyncIOScheduler, job_id: str, start: datetime, end: datetime
) -> list[datetime]:
    job = scheduler.get_job(job_id)
    assert job is not None
    times: list[datetime] = []
    previous = None
    now = start
    while True:
        fire = job.trigger.get_next_fire_time(previous, now)
        if fire is None or fire > end:
            return times
        times.append(fire)
        previous, now = fire, fire + timedelta(microseconds=1)


def test_it_fires_the_reminders_once_a_day_at_eight_in_berlin_across_dst(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    scheduler = build_scheduler(settings, sessions, now=berlin(2026, 3, 1))
    for first, last in [
        (date(2026, 3, 26), date(2026, 4, 1)),
        (date(2026, 10, 22), date(2026, 10, 28)),
    ]:
        times = fire_times(
            scheduler,
            EXPIRY_JOB,
            datetime.combine(first, datetime.min.time(), BERLIN),
            datetime.combine(last, datetime.max.time(), BERLIN),
        )
        local = [moment.astimezone(BERLIN) for moment in times]
        assert [moment.date() for moment in local] == [
            first + timedelta(days=offset) for offset in range(7)
        ]
        assert {(moment.hour, moment.minute) for moment in local} == {(8, 0)}
        # The UTC hour moves with the clock change, the local hour does not.
        assert len({moment.utcoffset() for moment in local}) == 2


def test_it_posts_the_follow_up_only_on_working_days(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    scheduler = build_scheduler(settings, sessions, now=berlin(2026, 3, 1))
    times = fire_times(scheduler, FOLLOWUP_JOB, berlin(2026, 3, 23, 0), berlin(2026, 4, 5, 23))
    assert [moment.astimezone(BERLIN).strftime("%a %H:%M") for moment in times] == [
        f"{day} 08:00" for day in ["Mon", "Tue", "Wed", "Thu", "Fri"] * 2
    ]


def test_it_checks_the_budget_every_night_and_at_start(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    start = berlin(2026, 7, 3, 6)
    scheduler = build_scheduler(settings, sessions, now=start)
    job = scheduler.get_job(DISTRIBUTION_JOB)
    assert job is not None and job.next_run_time == start
    # Before 08:00 the reminders wait for their slot instead of going out at 06:00.
    expiry = scheduler.get_job(EXPIRY_JOB)
    assert expiry is not None
    assert fire_times(scheduler, EXPIRY_JOB, start, berlin(2026, 7, 3, 23)) == [berlin(2026, 7, 3)]


async def run_started_scheduler(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    at: datetime,
    expected_jobs: set[str],
    outbox_flush: Step | None = None,
) -> dict[str, JobExecutionEvent]:
    """Start the real scheduler at a frozen-but-ticking moment; return once the jobs ran."""
    finished: dict[str, JobExecutionEvent] = {}
    done = asyncio.Event()

    def listener(event: JobExecutionEvent) -> None:
        finished[event.job_id] = event
        if expected_jobs <= finished.keys():
            done.set()

    with time_machine.travel(at, tick=True):
        scheduler = build_scheduler(settings, sessions, outbox_flush=outbox_flush)
        scheduler.add_listener(listener, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR)
        scheduler.start()
        try:
            await asyncio.wait_for(done.wait(), timeout=30)
        finally:
            scheduler.shutdown(wait=False)
    return finished


async def test_it_catches_up_the_distribution_when_started_after_the_budget_day(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    """B2: the process was down on 1 July; started on 3 July it distributes at once."""
    await import_rows(sessions, *ANNA_2025)

    finished = await run_started_scheduler(
        settings, sessions, berlin(2026, 7, 3, 10), {DISTRIBUTION_JOB, EXPIRY_JOB, FOLLOWUP_JOB}
    )

    assert all(event.exception is None for event in finished.values())
    assert await balance_cents(sessions, anna.id) == 300_00
    assert len(await outbox(sessions, "budget_distributed")) == 3


async def test_it_does_not_distribute_when_started_before_the_budget_day(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    await import_rows(sessions, *ANNA_2025)

    finished = await run_started_scheduler(
        settings, sessions, berlin(2026, 6, 30, 23, 50), {DISTRIBUTION_JOB}
    )

    assert finished[DISTRIBUTION_JOB].exception is None
    assert await balance_cents(sessions, anna.id) == 0


async def test_it_runs_the_injected_outbox_flush_at_start_and_when_a_notification_commits(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> None:
    calls: asyncio.Queue[None] = asyncio.Queue()

    async def flush() -> None:
        calls.put_nowait(None)

    # An hour between polls: only the commit below can bring the second flush.
    scheduler = build_scheduler(settings, sessions, outbox_flush=flush, flush_seconds=3600)
    # Only the flush is under test: the catch-up jobs would still be querying the database
    # when the test ends, and a job cancelled mid-query hangs the closing event loop.
    for job_id in (DISTRIBUTION_JOB, EXPIRY_JOB, FOLLOWUP_JOB):
        scheduler.remove_job(job_id)
    scheduler.start()
    try:
        await asyncio.wait_for(calls.get(), timeout=30)
        async with transaction(sessions) as session:
            await enqueue(
                session, channel="email", recipient="anna@example.org", template="t", context={}
            )
        await asyncio.wait_for(calls.get(), timeout=30)
    finally:
        scheduler.shutdown(wait=False)
