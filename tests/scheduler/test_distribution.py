"""The yearly Konzeptrabatt budget (rules B1–B4)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from store.budget import charge_konzept, post_entry, set_credit_limit, storno_credit
from store.db import make_sessionmaker, transaction
from store.distribution import (
    DistributionResult,
    distribute_budget,
    distribute_if_due,
    queue_distribution_notices,
    queue_notice_batch,
)
from store.models import Broker, BudgetNoticeRun, FivFigure, JobRun, LedgerEntry
from tests.scheduler.conftest import balance_cents, import_rows, outbox

BERLIN = ZoneInfo("Europe/Berlin")
JULY_FIRST = (7, 1)
DISTRIBUTION_DAY = datetime(2026, 7, 1, 0, 5, tzinfo=BERLIN)

# Anna's 2025 new premium: 10.000,00 + 2.345,67 = 12.345,67 € → 3 % = 370,3701 € → 370,37 €.
ANNA_2025 = (
    "4711;2025;haftpflicht;1;10.000,00",
    "4711;2025;sach;1;2.345,67",
    "4711;2025;sach;2;50.000,00",  # Zugangsart 2 is not new premium (B1)
    "4711;2024;sach;1;99.999,99",  # the year before last does not count
)
ANNA_BUDGET = 37037
# Carla's 12.345,50 € → 370,365 € exactly: half up gives 370,37 €.
CARLA_2025 = ("4712;2025;rechtsschutz;1;12.345,50",)
CARLA_BUDGET = 37037


async def distribute(
    sessions: async_sessionmaker[AsyncSession], year: int = 2026
) -> DistributionResult:
    """As the scheduler and the CLI do it: the bookings, then their notices."""
    result = await bookings_only(sessions, year)
    await queue_distribution_notices(sessions)
    return result


async def bookings_only(
    sessions: async_sessionmaker[AsyncSession], year: int = 2026
) -> DistributionResult:
    """The distribution's transaction alone: its notices are still to be queued."""
    async with transaction(sessions) as session:
        return await distribute_budget(session, year, now=DISTRIBUTION_DAY.astimezone(UTC))


async def test_it_credits_three_percent_of_last_years_new_premium_on_the_budget_day(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, carla: Broker
) -> None:
    """B1 and B2: Anna and Carla get 3 % of their Zugangsart-1 premium of 2025, rounded half up."""
    await import_rows(sessions, *ANNA_2025, *CARLA_2025)

    the_evening_before = datetime(2026, 6, 30, 23, 59, tzinfo=BERLIN)
    async with transaction(sessions) as session:
        assert await distribute_if_due(session, JULY_FIRST, BERLIN, now=the_evening_before) is None
    assert await balance_cents(sessions, anna.id) == 0

    # Midnight in Berlin is still 30 June in UTC: the local date decides.
    midnight = datetime(2026, 6, 30, 22, 0, tzinfo=UTC)
    async with transaction(sessions) as session:
        result = await distribute_if_due(session, JULY_FIRST, BERLIN, now=midnight)

    assert result is not None and result.ran
    assert (result.year, result.base_year, result.brokers) == (2026, 2025, 2)
    assert result.total_cents == ANNA_BUDGET + CARLA_BUDGET
    assert await balance_cents(sessions, anna.id) == ANNA_BUDGET
    assert await balance_cents(sessions, carla.id) == CARLA_BUDGET


async def test_it_tells_each_broker_the_new_balance_once_by_mail_cc_and_slack(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    await import_rows(sessions, *ANNA_2025)
    async with transaction(sessions) as session:
        await post_entry(session, anna.id, 12_50, "correction", "K-1")

    await bookings_only(sessions)
    assert await outbox(sessions, "budget_distributed") == []
    queued = await queue_distribution_notices(sessions)

    rows = await outbox(sessions, "budget_distributed")
    assert queued == 3
    assert sorted((row.kind, row.recipient) for row in rows) == [
        ("email", "anna@makler-adler.example"),
        ("email", "assistenz@makler-adler.example"),
        ("slack", "U0ANNA"),
    ]
    assert rows[0].context == {
        "year": 2026,
        "base_year": 2025,
        "amount": "370.37",
        "balance": "382.87",
        "broker_name": "Anna Adler",
        "broker_number": "4711",
    }
    assert {row.dedupe_key for row in rows} == {
        "budget:2026:email:anna@makler-adler.example",
        "budget:2026:email:assistenz@makler-adler.example",
        "budget:2026:slack:U0ANNA",
    }
    assert len({row.message_id for row in rows}) == 3
    assert all(row.status == "pending" and row.next_attempt_at is not None for row in rows)


async def test_it_credits_only_once_a_year_however_often_it_runs(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    """B2: no second distribution and no top-up, even when new figures arrive later."""
    await import_rows(sessions, *ANNA_2025)
    first = await distribute(sessions)
    await import_rows(sessions, "4711;2025;cyber;1;1.000.000,00")
    second = await distribute(sessions)

    assert first.ran and not second.ran
    assert second.ran_at == DISTRIBUTION_DAY
    assert await balance_cents(sessions, anna.id) == ANNA_BUDGET
    assert len(await outbox(sessions, "budget_distributed")) == 3


async def test_it_distributes_again_in_the_next_year(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    await import_rows(sessions, *ANNA_2025, "4711;2026;sach;1;1.000,00")
    await distribute(sessions, 2026)
    result = await distribute(sessions, 2027)

    assert result.ran and result.total_cents == 3000
    assert await balance_cents(sessions, anna.id) == ANNA_BUDGET + 3000
    assert len(await outbox(sessions, "budget_distributed")) == 6


async def test_it_carries_over_unspent_budget_and_offsets_a_negative_balance(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, carla: Broker
) -> None:
    """B3: Anna's unspent 100 € stay; Carla's used credit of 50 € is taken from her new budget."""
    await import_rows(sessions, *ANNA_2025, *CARLA_2025)
    async with transaction(sessions) as session:
        await post_entry(session, anna.id, 100_00, "correction", "Übertrag")
        await set_credit_limit(session, carla.id, Decimal("500"))
        await charge_konzept(session, carla.id, Decimal("50"), "V-CARLA-1", "neu")

    result = await distribute(sessions)

    assert result.negative_offset == 1
    assert await balance_cents(sessions, anna.id) == 100_00 + ANNA_BUDGET
    assert await balance_cents(sessions, carla.id) == CARLA_BUDGET - 50_00


async def test_it_keeps_a_negative_balance_when_the_budget_does_not_cover_it(
    sessions: async_sessionmaker[AsyncSession], carla: Broker
) -> None:
    await import_rows(sessions, "4712;2025;sach;1;1.000,00")
    async with transaction(sessions) as session:
        await set_credit_limit(session, carla.id, Decimal("500"))
        await charge_konzept(session, carla.id, Decimal("400"), "V-CARLA-2", "neu")

    await distribute(sessions)

    assert await balance_cents(sessions, carla.id) == -400_00 + 30_00
    rows = await outbox(sessions, "budget_distributed")
    assert {row.context["balance"] for row in rows} == {"-370.00"}


@pytest.mark.parametrize("storno_first", [True, False], ids=["storno-before", "storno-after"])
async def test_it_counts_a_storno_credit_back_next_to_the_distribution(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, storno_first: bool
) -> None:
    """B4 with B3: a charged Konzeptrabatt credited back ends up as if never charged."""
    await import_rows(sessions, *ANNA_2025)
    async with transaction(sessions) as session:
        await set_credit_limit(session, anna.id, Decimal("1000"))
        await charge_konzept(session, anna.id, Decimal("200"), "V-4711-1", "neu")
    if storno_first:
        async with transaction(sessions) as session:
            await storno_credit(session, anna.id, "V-4711-1")

    result = await distribute(sessions)
    if not storno_first:
        assert result.negative_offset == 1
        async with transaction(sessions) as session:
            await storno_credit(session, anna.id, "V-4711-1")

    assert await balance_cents(sessions, anna.id) == ANNA_BUDGET
    async with transaction(sessions) as session:
        kinds = await session.scalars(
            select(LedgerEntry.kind)
            .where(LedgerEntry.broker_id == anna.id)
            .order_by(LedgerEntry.id)
        )
        expected = (
            ["charge", "storno", "distribution"]
            if storno_first
            else ["charge", "distribution", "storno"]
        )
        assert list(kinds) == expected


async def test_it_reports_figures_of_unknown_broker_numbers_and_keeps_them(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    await import_rows(sessions, *ANNA_2025, "9999;2025;sach;1;5.000,00", "9999;2025;sach;1;1,00")

    result = await distribute(sessions)

    assert result.unknown_count == 1
    assert result.unknown_numbers == [("9999", 500_100)]
    async with transaction(sessions) as session:
        kept = await session.scalar(
            select(func.sum(FivFigure.contracts)).where(FivFigure.broker_number == "9999")
        )
    assert kept == 2


async def test_it_gives_nothing_and_sends_nothing_without_new_premium(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, carla: Broker
) -> None:
    await import_rows(sessions, *ANNA_2025, "4712;2025;sach;2;9.000,00", "4712;2025;sach;1;0,16")

    result = await distribute(sessions)

    # 0,16 € × 3 % = 0,48 ct rounds to nothing; Zugangsart 2 never counts.
    assert result.brokers == 1
    assert await balance_cents(sessions, carla.id) == 0
    rows = await outbox(sessions, "budget_distributed")
    assert {row.recipient for row in rows} >= {"U0ANNA"}
    assert "U0CARLA" not in {row.recipient for row in rows}


async def test_it_honours_a_brokers_switched_off_channels(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    await import_rows(sessions, *ANNA_2025)
    async with transaction(sessions) as session:
        loaded = await session.get(Broker, anna.id)
        assert loaded is not None
        loaded.notify_email = False

    await distribute(sessions)

    rows = await outbox(sessions, "budget_distributed")
    assert [(row.kind, row.recipient) for row in rows] == [("slack", "U0ANNA")]


@pytest.mark.postgres_only
async def test_it_credits_once_when_two_replicas_run_at_the_same_moment(
    engine: AsyncEngine, anna: Broker, carla: Broker
) -> None:
    """B2 across replicas: the job_runs row makes the second runner wait, then do nothing."""
    sessions = make_sessionmaker(engine)
    await import_rows(sessions, *ANNA_2025, *CARLA_2025)
    started = asyncio.Event()

    async def runner(hold: bool) -> bool:
        async with transaction(sessions) as session:
            result = await distribute_budget(session, 2026, now=DISTRIBUTION_DAY)
            if hold:
                started.set()
                # Keep the transaction open so the other runner really overlaps it.
                await asyncio.sleep(0.3)
            return result.ran

    async def second() -> bool:
        await started.wait()
        return await runner(hold=False)

    results = await asyncio.gather(runner(hold=True), second())

    assert sorted(results) == [False, True]
    assert await balance_cents(sessions, anna.id) == ANNA_BUDGET
    assert await balance_cents(sessions, carla.id) == CARLA_BUDGET
    async with transaction(sessions) as session:
        runs = await session.scalar(select(func.count()).select_from(JobRun))
    assert runs == 1


async def test_it_queues_the_notices_in_batches_each_broker_once(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, carla: Broker
) -> None:
    """Anna (mail, CC, Slack) and Carla (mail, Slack), one broker per batch."""
    await import_rows(sessions, *ANNA_2025, *CARLA_2025)
    await bookings_only(sessions)

    batches = []
    for _ in range(4):
        async with transaction(sessions) as session:
            batches.append(await queue_notice_batch(session, batch=1))

    assert batches == [3, 2, None, None]
    rows = await outbox(sessions, "budget_distributed")
    assert sorted(row.recipient for row in rows) == [
        "U0ANNA",
        "U0CARLA",
        "anna@makler-adler.example",
        "assistenz@makler-adler.example",
        "carla@clausen-versicherungen.example",
    ]
    async with transaction(sessions) as session:
        run = await session.get(BudgetNoticeRun, 2026)
    assert run is not None and run.finished_at is not None


async def test_it_queues_the_rest_of_the_notices_after_a_crash_between_batches(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, carla: Broker
) -> None:
    await import_rows(sessions, *ANNA_2025, *CARLA_2025)
    await bookings_only(sessions)
    async with transaction(sessions) as session:
        assert await queue_notice_batch(session, batch=1) == 3
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as session:
            await queue_notice_batch(session, batch=1)
            raise RuntimeError("the process dies before the commit")

    # The next start of the scheduler (or the CLI) runs the same step again.
    again = await distribute(sessions)

    assert not again.ran
    rows = await outbox(sessions, "budget_distributed")
    assert len(rows) == 5
    assert len({row.dedupe_key for row in rows}) == 5


async def test_it_leaves_no_notices_behind_when_the_distribution_rolls_back(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    await import_rows(sessions, *ANNA_2025)
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as session:
            await distribute_budget(session, 2026, now=DISTRIBUTION_DAY)
            raise RuntimeError("rolled back")

    assert await queue_distribution_notices(sessions) == 0
    assert await balance_cents(sessions, anna.id) == 0


@pytest.mark.postgres_only
async def test_it_queues_each_notice_once_when_two_replicas_queue_at_once(
    engine: AsyncEngine, anna: Broker, carla: Broker
) -> None:
    sessions = make_sessionmaker(engine)
    await import_rows(sessions, *ANNA_2025, *CARLA_2025)
    await bookings_only(sessions)

    counts = await asyncio.gather(
        queue_distribution_notices(sessions, batch=1),
        queue_distribution_notices(sessions, batch=1),
    )

    assert sum(counts) == 5
    rows = await outbox(sessions, "budget_distributed")
    assert len(rows) == 5
