"""Builders for the scheduler tests: FIV files, balances and what the outbox holds."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import transaction
from store.fiv import FivImportResult, import_fiv
from store.models import BudgetAccount, LedgerEntry, OutboxRow

HEADER = "vermittlernummer;jahr;sparte;zugangsart;beitrag"


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


async def outbox(sessions: async_sessionmaker[AsyncSession], template: str) -> Sequence[OutboxRow]:
    async with transaction(sessions) as session:
        rows = await session.scalars(
            select(OutboxRow).where(OutboxRow.template == template).order_by(OutboxRow.id)
        )
        return rows.all()
