from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.budget import charge_konzept, post_entry, set_credit_limit, statement, storno_credit
from store.db import transaction
from store.errors import AlreadyDone, BudgetNotCovered, KonzeptOnlyNewBusiness
from store.models import Broker, BudgetAccount, LedgerEntry


async def _credit(
    sessions: async_sessionmaker[AsyncSession], broker: Broker, cents: int, year: int = 2026
) -> None:
    async with transaction(sessions) as session:
        await post_entry(session, broker.id, cents, "distribution", str(year), f"Budget {year}")


async def _charge(
    sessions: async_sessionmaker[AsyncSession],
    broker: Broker,
    amount: str,
    contract: str,
    business: str = "neu",
) -> None:
    async with transaction(sessions) as session:
        await charge_konzept(session, broker.id, Decimal(amount), contract, business)


async def _balance(sessions: async_sessionmaker[AsyncSession], broker: Broker) -> Decimal:
    async with transaction(sessions) as session:
        return (await statement(session, broker.id)).balance


async def test_it_shows_the_balance_and_latest_entries_at_any_time(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule B5
    await _credit(sessions, anna, 40000)
    await _charge(sessions, anna, "250.00", "ANTRAG-1")
    async with transaction(sessions) as session:
        result = await statement(session, anna.id)
    assert result.balance == Decimal("150.00")
    assert [(e.kind, e.amount_cents) for e in result.entries] == [
        ("charge", -25000),
        ("distribution", 40000),
    ]


async def test_it_refuses_konzeptrabatt_in_replacement_business(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule P3
    await _credit(sessions, anna, 40000)
    with pytest.raises(KonzeptOnlyNewBusiness) as refused:
        await _charge(sessions, anna, "10", "ANTRAG-2", "ersatz")
    assert refused.value.code == "konzept_only_new_business"
    assert "Ersatzgeschäft" in refused.value.message_de


async def test_it_refuses_a_charge_the_account_does_not_cover(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule P3: not covered → contact the Geschäftsstelle; nothing is booked.
    await _credit(sessions, anna, 10000)
    with pytest.raises(BudgetNotCovered) as refused:
        await _charge(sessions, anna, "100.01", "ANTRAG-3")
    assert refused.value.code == "budget_not_covered"
    assert "Geschäftsstelle" in refused.value.message_de
    async with transaction(sessions) as session:
        result = await statement(session, anna.id)
    assert result.balance == Decimal("100.00")
    assert len(result.entries) == 1


async def test_it_lets_a_charge_use_the_granted_credit(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule P3 with credit; B3 then offsets the negative balance against the next budget.
    await _credit(sessions, anna, 10000)
    async with transaction(sessions) as session:
        await set_credit_limit(session, anna.id, Decimal("50"))
        await charge_konzept(session, anna.id, Decimal("150.00"), "ANTRAG-4", "neu")
    assert await _balance(sessions, anna) == Decimal("-50.00")
    with pytest.raises(BudgetNotCovered):
        await _charge(sessions, anna, "0.01", "ANTRAG-5")
    await _credit(sessions, anna, 30000, year=2027)
    assert await _balance(sessions, anna) == Decimal("250.00")


async def test_it_credits_back_a_storno_from_inception_once(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule B4
    await _credit(sessions, anna, 40000)
    async with transaction(sessions) as session:
        await charge_konzept(session, anna.id, Decimal("120.00"), "ANTRAG-6", "neu")
        credited = await storno_credit(session, anna.id, "ANTRAG-6")
    assert credited.amount_cents == 12000
    with pytest.raises(AlreadyDone):
        async with transaction(sessions) as session:
            await storno_credit(session, anna.id, "ANTRAG-6")
    assert await _balance(sessions, anna) == Decimal("400.00")


async def test_it_books_one_konzeptrabatt_per_contract(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    await _credit(sessions, anna, 40000)
    await _charge(sessions, anna, "10", "ANTRAG-7")
    with pytest.raises(AlreadyDone):
        await _charge(sessions, anna, "10", "ANTRAG-7")
    assert await _balance(sessions, anna) == Decimal("390.00")


@pytest.mark.postgres_only
async def test_it_never_overdraws_under_concurrent_charges(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule P3 on PostgreSQL: 20 charges of 100 € race for 1.000 €; exactly ten pass.
    await _credit(sessions, anna, 100000)

    async def charge(index: int) -> bool:
        try:
            async with transaction(sessions) as session:
                await charge_konzept(session, anna.id, Decimal("100"), f"ANTRAG-R{index}", "neu")
        except BudgetNotCovered:
            return False
        return True

    results = await asyncio.gather(*(charge(index) for index in range(20)))
    assert results.count(True) == 10
    async with transaction(sessions) as session:
        account = await session.get(BudgetAccount, anna.id)
        ledger_sum = await session.scalar(
            select(func.sum(LedgerEntry.amount_cents)).where(LedgerEntry.broker_id == anna.id)
        )
    assert account is not None
    assert account.balance_cents == 0 == ledger_sum
