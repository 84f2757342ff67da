"""Builders for the scheduler tests: FIV files, balances and what the outbox holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings, load_settings
from store.db import transaction
from store.fiv import FivImportResult, import_fiv
from store.models import Broker, BudgetAccount, LedgerEntry, Offer, QueueRow, Tender
from store.tenders import add_offer
from tests.conftest import BACKOFFICE_CHANNEL, BERND_ACTOR
from tests.store.helpers import started_tender

HEADER = "vermittlernummer;jahr;sparte;zugangsart;beitrag"
BERLIN = ZoneInfo("Europe/Berlin")


def fiv_text(*rows: str) -> list[str]:
    """An FIV export as the lines of a file, header first."""
    return [line + "\n" for line in (HEADER, *rows)]


async def import_rows(
    sessions: async_sessionmaker[AsyncSession], *rows: str, skip_invalid: bool = False
) -> FivImportResult:
    async with transaction(sessions) as session:
        return await import_fiv(session, fiv_text(*rows), skip_invalid=skip_invalid)


async def balance_cents(sessions: async_sessionmaker[AsyncSession], broker_id: int) -> int:
    async with transaction(sessions) as session:
        account = await session.get(BudgetAccount, broker_id)
        ledger = await session.scalars(
            select(LedgerEntry.amount_cents).where(LedgerEntry.broker_id == broker_id)
        )
        assert account is not None
        # The cached balance must always equal the ledger.
        assert account.balance_cents == sum(ledger)
        return account.balance_cents


async def outbox(sessions: async_sessionmaker[AsyncSession], template: str) -> Sequence[QueueRow]:
    async with transaction(sessions) as session:
        rows = await session.scalars(
            select(QueueRow).where(QueueRow.template == template).order_by(QueueRow.id)
        )
        return rows.all()


@pytest.fixture
def settings(database_url: str) -> Settings:
    """Defaults of the issue: budget day 1 July, reminders 7 and 1 days, follow-up after 5."""
    return load_settings(
        TENDERBOT_DATABASE_URL=database_url,
        TENDERBOT_BACKOFFICE_CHANNEL=BACKOFFICE_CHANNEL,
        TENDERBOT_TIMEZONE="Europe/Berlin",
        TENDERBOT_BUDGET_DAY="07-01",
        TENDERBOT_REMINDER_DAYS="7,1",
        TENDERBOT_FOLLOWUP_WORKDAYS=5,
    )


def berlin(year: int, month: int, day: int, hour: int = 8, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=BERLIN)


async def tender_with_offer(
    sessions: async_sessionmaker[AsyncSession],
    broker: Broker,
    *,
    started: datetime,
    valid_until: date | None,
    customer_name: str = "Bäckerei Korn GmbH",
) -> tuple[Tender, Offer | None]:
    """Broker starts a tender at ``started``; backoffice Bernd adds Allianz's offer."""
    with time_machine.travel(started, tick=False):
        tender = await started_tender(sessions, broker, customer_name=customer_name)
        if valid_until is None:
            return tender, None
        async with transaction(sessions) as session:
            offer = await add_offer(
                session,
                BERND_ACTOR,
                tender.reference,
                insurer="Allianz",
                premium=Decimal("1234.50"),
                valid_until=valid_until,
                today=started.date(),
            )
    return tender, offer
