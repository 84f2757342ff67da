"""The Konzeptrabatt account: an append-only ledger in integer cents (rules P3, B3–B5)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from store.dialect import insert_ignoring_conflicts
from store.errors import (
    AlreadyDone,
    BudgetNotCovered,
    InvalidInput,
    KonzeptOnlyNewBusiness,
    NotFound,
)
from store.models import BudgetAccount, LedgerEntry, LedgerKind
from store.money import format_eur, from_cents, to_cents
from store.types import utcnow

Business = Literal["neu", "ersatz"]


@dataclass(frozen=True)
class Statement:
    balance: Decimal
    credit_limit: Decimal
    entries: list[LedgerEntry]


async def ensure_account(session: AsyncSession, broker_id: int) -> None:
    await session.execute(
        insert_ignoring_conflicts(session, BudgetAccount).values(
            broker_id=broker_id, balance_cents=0, credit_limit_cents=0
        )
    )


async def load_account(session: AsyncSession, broker_id: int) -> BudgetAccount:
    await ensure_account(session, broker_id)
    account = await session.get(BudgetAccount, broker_id, populate_existing=True)
    if account is None:
        raise NotFound("Kein Konzeptrabattkonto für diesen Vermittler.")
    return account


async def statement(session: AsyncSession, broker_id: int, limit: int = 10) -> Statement:
    """Rule B5: the balance at any time, with the latest bookings."""
    account = await load_account(session, broker_id)
    entries = await session.scalars(
        select(LedgerEntry)
        .where(LedgerEntry.broker_id == broker_id)
        .order_by(LedgerEntry.id.desc())
        .limit(limit)
    )
    return Statement(
        balance=from_cents(account.balance_cents),
        credit_limit=from_cents(account.credit_limit_cents),
        entries=list(entries),
    )


async def post_entry(
    session: AsyncSession,
    broker_id: int,
    amount_cents: int,
    kind: str,
    reference: str | None,
    note: str | None = None,
) -> LedgerEntry:
    """Book one entry and move the cached balance with it, in the caller's transaction."""
    await ensure_account(session, broker_id)
    entry = LedgerEntry(
        broker_id=broker_id,
        amount_cents=amount_cents,
        kind=kind,
        reference=reference,
        note=note,
        created_at=utcnow(),
    )
    session.add(entry)
    await session.flush()
    await session.execute(
        update(BudgetAccount)
        .where(BudgetAccount.broker_id == broker_id)
        .values(balance_cents=BudgetAccount.balance_cents + amount_cents)
    )
    return entry


def not_covered(balance_cents: int, credit_cents: int, amount_cents: int) -> BudgetNotCovered:
    """Rule P3's refusal, worded exactly as ``/rabatt konzept`` words it (pricing.texts)."""
    available = balance_cents + credit_cents
    return BudgetNotCovered(
        f"Guthaben {format_eur(balance_cents)} plus Kredit {format_eur(credit_cents)} "
        f"ergibt nur {format_eur(available)}; {format_eur(amount_cents)} sind nicht "
        "gedeckt. Der Antrag kann so nicht policiert werden – bitte die Geschäftsstelle "
        "kontaktieren.",
        balance_cents=balance_cents,
        available_cents=available,
    )


async def charge_konzept(
    session: AsyncSession,
    broker_id: int,
    amount: Decimal,
    contract: str,
    business: Business,
    *,
    tender_reference: str | None = None,
) -> LedgerEntry:
    """Rule P3: only in new business, only if balance plus granted credit covers it."""
    charged = await charge_with_account(
        session, broker_id, amount, contract, business, tender_reference=tender_reference
    )
    return charged.entry


@dataclass(frozen=True)
class Charged:
    entry: LedgerEntry
    balance_cents: int
    credit_limit_cents: int


async def charge_with_account(
    session: AsyncSession,
    broker_id: int,
    amount: Decimal,
    contract: str,
    business: Business,
    *,
    tender_reference: str | None = None,
) -> Charged:
    """``charge_konzept`` that also gives the account after the charge.

    The check and the booking are one conditional ``UPDATE … RETURNING``: two charges at
    the same moment cannot both pass a check that only one of them fits. The account row
    stays locked until the caller commits, so nothing slow happens after the UPDATE here.
    """
    if business != "neu":
        raise KonzeptOnlyNewBusiness(
            "Der Konzeptrabatt gilt nur im Neugeschäft, nicht im Ersatzgeschäft."
        )
    cents = to_cents(amount)
    if cents <= 0:
        raise InvalidInput("Der Konzeptrabatt muss größer als 0 € sein.")
    contract = contract.strip()
    if not contract:
        raise InvalidInput("Bitte den Antrag bzw. Vertrag angeben, auf den der Rabatt geht.")
    existing = await session.scalar(
        select(LedgerEntry.id).where(
            LedgerEntry.broker_id == broker_id,
            LedgerEntry.kind == LedgerKind.CHARGE,
            LedgerEntry.reference == contract,
        )
    )
    if existing is not None:
        raise AlreadyDone(f"Für {contract} ist bereits ein Konzeptrabatt gebucht.")
    # No ensure_account first: a missing account covers nothing, and the refusal below opens it.
    charged = (
        await session.execute(
            update(BudgetAccount)
            .where(
                BudgetAccount.broker_id == broker_id,
                BudgetAccount.balance_cents - cents >= -BudgetAccount.credit_limit_cents,
            )
            .values(balance_cents=BudgetAccount.balance_cents - cents)
            .returning(BudgetAccount.balance_cents, BudgetAccount.credit_limit_cents)
        )
    ).first()
    if charged is None:
        account = await load_account(session, broker_id)
        raise not_covered(account.balance_cents, account.credit_limit_cents, cents)
    entry = LedgerEntry(
        broker_id=broker_id,
        amount_cents=-cents,
        kind=LedgerKind.CHARGE,
        reference=contract,
        tender_reference=tender_reference,
        created_at=utcnow(),
    )
    session.add(entry)
    await session.flush()
    return Charged(entry, int(charged[0]), int(charged[1]))


async def storno_credit(session: AsyncSession, broker_id: int, contract: str) -> LedgerEntry:
    """Rule B4: a cancellation from inception credits the charged Konzeptrabatt back, once."""
    charge = await session.scalar(
        select(LedgerEntry).where(
            LedgerEntry.broker_id == broker_id,
            LedgerEntry.kind == LedgerKind.CHARGE,
            LedgerEntry.reference == contract,
        )
    )
    if charge is None:
        raise NotFound(f"Für {contract} wurde kein Konzeptrabatt belastet.")
    done = await session.scalar(
        select(LedgerEntry.id).where(
            LedgerEntry.broker_id == broker_id,
            LedgerEntry.kind == LedgerKind.STORNO,
            LedgerEntry.reference == contract,
        )
    )
    if done is not None:
        raise AlreadyDone(f"Der Konzeptrabatt für {contract} wurde bereits gutgeschrieben.")
    return await post_entry(
        session, broker_id, -charge.amount_cents, LedgerKind.STORNO, contract, "Storno ab Beginn"
    )


async def set_credit_limit(session: AsyncSession, broker_id: int, limit: Decimal) -> None:
    if limit < 0:
        raise InvalidInput("Der Kreditrahmen kann nicht negativ sein.")
    await ensure_account(session, broker_id)
    await session.execute(
        update(BudgetAccount)
        .where(BudgetAccount.broker_id == broker_id)
        .values(credit_limit_cents=to_cents(limit))
    )
