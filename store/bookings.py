"""Bookings from the policy system: Konzeptrabatt charge (P3), Storno credit (B4) and the
granted credit, each with its notice to the broker.

One service per booking, shared by ``POST /platform/events`` and ``tenderbot budget``: the
booking, the audit entry and the outbox rows of the DM and e-mail commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.budget import charge_with_account, load_account, post_entry, set_credit_limit
from store.errors import AlreadyDone, InvalidInput, NotFound
from store.models import Broker, LedgerEntry, LedgerKind, Tender
from store.money import format_eur, from_cents, to_cents
from store.outbox import enqueue_for_broker

TEMPLATE = "budget_booking"


@dataclass(frozen=True)
class Booking:
    """What was booked and the account afterwards; ``entry`` is None when nothing was."""

    broker: Broker
    entry: LedgerEntry | None
    balance_cents: int
    credit_limit_cents: int
    message: str

    @property
    def available_cents(self) -> int:
        return self.balance_cents + self.credit_limit_cents


async def broker_for_number(session: AsyncSession, number: str) -> Broker:
    broker = await session.scalar(select(Broker).where(Broker.number == number.strip()))
    if broker is None:
        raise NotFound(f"Die Vermittlernummer {number} ist nicht bekannt.", field="broker_number")
    return broker


async def _after(
    session: AsyncSession,
    broker: Broker,
    entry: LedgerEntry,
    message: str,
    account: tuple[int, int] | None = None,
) -> Booking:
    """Tell the broker (DM and e-mail, rule B5) what was booked and the new balance;
    ``account`` is (balance, credit limit) when the booking already knows them."""
    if account is None:
        loaded = await load_account(session, broker.id)
        account = (loaded.balance_cents, loaded.credit_limit_cents)
    booking = Booking(
        broker=broker,
        entry=entry,
        balance_cents=account[0],
        credit_limit_cents=account[1],
        message=message,
    )
    await enqueue_for_broker(
        session,
        broker,
        TEMPLATE,
        {
            "kind": entry.kind,
            "amount": str(from_cents(abs(entry.amount_cents))),
            "balance": str(from_cents(booking.balance_cents)),
            "credit_limit": str(from_cents(booking.credit_limit_cents)),
            "available": str(from_cents(booking.available_cents)),
            "policy_number": entry.reference if entry.kind != LedgerKind.CREDIT else None,
            "tender_reference": entry.tender_reference,
        },
        dedupe_key=f"ledger:{entry.id}",
    )
    return booking


async def _check_tender(session: AsyncSession, broker: Broker, reference: str | None) -> None:
    if reference is None:
        return
    owner = await session.scalar(select(Tender.broker_id).where(Tender.reference == reference))
    if owner != broker.id:
        raise InvalidInput(
            f"Die Ausschreibung {reference} gibt es nicht oder sie gehört nicht zum "
            f"Vermittler {broker.number}.",
            "tender_reference",
        )


async def charge_policy(
    session: AsyncSession,
    broker: Broker,
    policy_number: str,
    amount: Decimal,
    *,
    tender_reference: str | None = None,
) -> Booking:
    """Rule P3: charge the Konzeptrabatt of an issued policy, only as far as covered.

    Raises BudgetNotCovered (nothing booked) or AlreadyDone (this policy is charged already,
    also when a second charge of it raced this one).
    """
    await _check_tender(session, broker, tender_reference)
    try:
        charged = await charge_with_account(
            session, broker.id, amount, policy_number, "neu", tender_reference=tender_reference
        )
    except IntegrityError:
        # A second charge of this policy committed between the check and the insert; the
        # caller's transaction is spoilt and rolls back, nothing of this one is booked.
        raise AlreadyDone(
            f"Für {policy_number.strip()} ist bereits ein Konzeptrabatt gebucht."
        ) from None
    entry = charged.entry
    return await _after(
        session,
        broker,
        entry,
        f"Konzeptrabatt {format_eur(-entry.amount_cents)} für {entry.reference} gebucht.",
        (charged.balance_cents, charged.credit_limit_cents),
    )


async def storno_policy(session: AsyncSession, policy_number: str) -> Booking | None:
    """Rule B4: a cancellation from inception credits the charged Konzeptrabatt back, once.

    None when no Konzeptrabatt was charged on this policy (nothing to credit).
    """
    policy_number = policy_number.strip()
    charge = await session.scalar(
        select(LedgerEntry).where(
            LedgerEntry.kind == LedgerKind.CHARGE, LedgerEntry.reference == policy_number
        )
    )
    if charge is None:
        return None
    broker = await session.get(Broker, charge.broker_id)
    assert broker is not None  # foreign key
    done = await session.scalar(
        select(LedgerEntry.id).where(
            LedgerEntry.broker_id == broker.id,
            LedgerEntry.kind == LedgerKind.STORNO,
            LedgerEntry.reference == policy_number,
        )
    )
    if done is not None:
        raise AlreadyDone(
            f"Der Konzeptrabatt für {policy_number} wurde bereits gutgeschrieben.",
            code="already_credited",
        )
    try:
        async with session.begin_nested():
            entry = await post_entry(
                session,
                broker.id,
                -charge.amount_cents,
                LedgerKind.STORNO,
                policy_number,
                "Storno ab Beginn",
            )
            entry.tender_reference = charge.tender_reference
            await session.flush()
    except IntegrityError:
        raise AlreadyDone(
            f"Der Konzeptrabatt für {policy_number} wurde bereits gutgeschrieben.",
            code="already_credited",
        ) from None
    return await _after(
        session,
        broker,
        entry,
        f"Storno ab Beginn: {format_eur(entry.amount_cents)} für {policy_number} gutgeschrieben.",
    )


async def change_credit_limit(
    session: AsyncSession, broker: Broker, limit: Decimal, *, audit_id: str, source: str
) -> Booking:
    """Grant a credit (P3: how far below zero the account may go), with an audit entry.

    The audit entry books 0 € (the balance stays the sum of the ledger) and names the old
    and the new limit and who set it; ``audit_id`` (the event id) keeps it unique.
    """
    account = await load_account(session, broker.id)
    old = account.credit_limit_cents
    await set_credit_limit(session, broker.id, limit)
    new = to_cents(limit)
    entry = await post_entry(
        session,
        broker.id,
        0,
        LedgerKind.CREDIT,
        audit_id,
        f"Kreditrahmen {format_eur(old)} → {format_eur(new)} ({source})",
    )
    return await _after(session, broker, entry, f"Kreditrahmen auf {format_eur(new)} gesetzt.")
