"""Applying one platform event, once: the event id and its answer commit with the effect.

``apply_event`` is the single entry for ``POST /platform/events``, ``tenderbot platform
send/import`` and ``tenderbot budget charge/storno/credit``. Its answer is the HTTP answer:
200 booked/recorded/duplicate, 409 a refusal by a rule (kept, so a repeat gets it again),
422 input the desk cannot use (not kept: nothing happened, a corrected retry may pass).

Exactly once, also for two copies at the same moment on two replicas: the first statement
inserts the event id (``ON CONFLICT DO NOTHING``), so the second copy waits on the key until
the first commits, then finds the row and answers from it. The effect runs in a savepoint:
a refusal rolls the effect back but keeps the event row with its answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.bookings import (
    Booking,
    broker_for_number,
    change_credit_limit,
    charge_policy,
    storno_policy,
)
from store.calculator import LINE_LOCKED, CalculatorOfferData, record_calculator_offer
from store.db import transaction
from store.dialect import insert_ignoring_conflicts
from store.errors import BudgetNotCovered, DomainError, InvalidInput, NotFound
from store.models import PlatformEvent
from store.money import from_cents
from store.platform_events import (
    CalculatorOffer,
    CreditLimit,
    FieldProblem,
    PlatformEventIn,
    PolicyCancelled,
    PolicyIssued,
)
from store.types import utcnow

JSON = dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    http_status: int
    body: JSON

    @property
    def ok(self) -> bool:
        return self.http_status == 200

    @property
    def message(self) -> str:
        """One German line for people (CLI, demo)."""
        if "errors" in self.body:
            return "; ".join(f"{e['field']}: {e['message']}" for e in self.body["errors"])
        return str(self.body.get("message", self.body.get("status", "")))


class _Unprocessable(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


def unprocessable(problems: list[FieldProblem]) -> Outcome:
    return Outcome(422, {"errors": [problem.model_dump() for problem in problems]})


def _money(cents: int) -> str:
    return str(from_cents(cents))


def _account(booking: Booking) -> JSON:
    return {
        "broker_number": booking.broker.number,
        "balance": _money(booking.balance_cents),
        "credit_limit": _money(booking.credit_limit_cents),
        "available": _money(booking.available_cents),
    }


def _booked(booking: Booking, **extra: Any) -> Outcome:
    return Outcome(
        200, {"status": "booked", "message": booking.message, **_account(booking), **extra}
    )


def _recorded(message: str, **extra: Any) -> Outcome:
    return Outcome(200, {"status": "recorded", "message": message, **extra})


# -- one service per event type ---------------------------------------------------------


async def policy_issued(session: AsyncSession, data: PolicyIssued) -> Outcome:
    """Rule P3: charge the policy's Konzeptrabatt, only if balance plus credit cover it."""
    broker = await broker_for_number(session, data.broker_number)
    if data.konzeptrabatt == 0:
        return _recorded(
            f"Police {data.policy_number} ohne Konzeptrabatt – nichts gebucht.",
            policy_number=data.policy_number,
        )
    booking = await charge_policy(
        session,
        broker,
        data.policy_number,
        data.konzeptrabatt,
        tender_reference=data.tender_reference,
    )
    return _booked(
        booking,
        policy_number=data.policy_number,
        konzeptrabatt=str(data.konzeptrabatt),
        tender_reference=data.tender_reference,
    )


async def policy_cancelled(session: AsyncSession, data: PolicyCancelled) -> Outcome:
    """Rule B4: only a cancellation from inception credits the Konzeptrabatt back, once."""
    if not data.from_inception:
        return _recorded(
            f"Storno von {data.policy_number} nicht ab Beginn: der Konzeptrabatt wird nicht "
            "gutgeschrieben (B4) – nichts gebucht.",
            policy_number=data.policy_number,
        )
    booking = await storno_policy(session, data.policy_number)
    if booking is None:
        return _recorded(
            f"Auf {data.policy_number} wurde kein Konzeptrabatt belastet – nichts gutzuschreiben.",
            policy_number=data.policy_number,
        )
    assert booking.entry is not None
    return _booked(
        booking,
        policy_number=data.policy_number,
        credited=_money(booking.entry.amount_cents),
    )


async def credit_limit(session: AsyncSession, data: CreditLimit, audit_id: str) -> Outcome:
    broker = await broker_for_number(session, data.broker_number)
    booking = await change_credit_limit(
        session, broker, data.amount, audit_id=audit_id, source="Plattform"
    )
    return _booked(booking)


async def calculator_offer(session: AsyncSession, data: CalculatorOffer) -> Outcome:
    """Rules T2/T6: add or recalculate a calculator offer of the consultation's product line."""
    result = await record_calculator_offer(
        session,
        CalculatorOfferData(
            consultation_id=data.consultation_id,
            product=data.sparte,
            insurer=data.insurer,
            premium=data.premium,
            valid_until=data.valid_until,
            offer_id=data.offer_id,
            new_line=data.new_line,
            broker_number=data.broker_number,
            customer_name=data.customer_name,
        ),
    )
    verb = "neu berechnet" if result.recalculated else "aufgenommen"
    return _recorded(
        f"Angebot {data.offer_id} aus dem Tarifrechner {verb}.",
        offer_id=data.offer_id,
        product_line=result.line.id,
        recalculated=result.recalculated,
        new_line=result.new_line,
    )


def _service(event: PlatformEventIn) -> Callable[[AsyncSession], Awaitable[Outcome]]:
    data = event.data
    if isinstance(data, PolicyIssued):
        return lambda session: policy_issued(session, data)
    if isinstance(data, PolicyCancelled):
        return lambda session: policy_cancelled(session, data)
    if isinstance(data, CreditLimit):
        return lambda session: credit_limit(session, data, event.id)
    return lambda session: calculator_offer(session, data)


# -- refusals ---------------------------------------------------------------------------


def _refusal(event: PlatformEventIn, error: DomainError) -> Outcome:
    body: JSON = {"code": error.code, "message": error.message_de}
    if isinstance(error, BudgetNotCovered):
        assert isinstance(event.data, PolicyIssued)
        body.update(
            code="not_covered",
            balance=_money(error.balance_cents),
            available=_money(error.available_cents),
            konzeptrabatt=str(event.data.konzeptrabatt),
        )
    elif error.code == LINE_LOCKED:
        body["way_out"] = {"new_line": True}
    elif error.code == "already_done" and isinstance(event.data, PolicyIssued):
        body["code"] = "already_charged"
    return Outcome(409, body)


def _invalid(error: DomainError) -> Outcome:
    field = f"data.{error.field}" if error.field else "data"
    return unprocessable([FieldProblem(field=field, message=error.message_de)])


def _replay(stored: PlatformEvent) -> Outcome:
    body = dict(stored.answer)
    if stored.http_status == 200:
        body["first_status"] = body.get("status")
        body["status"] = "duplicate"
    else:
        body["duplicate"] = True
    return Outcome(stored.http_status, body)


async def apply_event(
    sessions: async_sessionmaker[AsyncSession], event: PlatformEventIn
) -> Outcome:
    """Apply ``event`` once and answer; a repeat of its id answers from the stored answer."""
    try:
        async with transaction(sessions) as session:
            claimed = await session.scalar(
                insert_ignoring_conflicts(
                    session, PlatformEvent, returning=PlatformEvent.id
                ).values(
                    id=event.id,
                    type=event.type,
                    http_status=0,
                    answer={},
                    received_at=utcnow(),
                )
            )
            if claimed is None:
                stored = await session.get(PlatformEvent, event.id, populate_existing=True)
                assert stored is not None  # the conflicting row is committed
                return _replay(stored)
            try:
                async with session.begin_nested():
                    outcome = await _service(event)(session)
            except (InvalidInput, NotFound) as error:
                raise _Unprocessable(_invalid(error)) from None
            except DomainError as error:
                outcome = _refusal(event, error)
            except IntegrityError:
                # Another event changed the same thing at the same moment (a second charge
                # of one policy, the same calculator offer twice): refuse, change nothing.
                outcome = Outcome(
                    409,
                    {
                        "code": "conflict",
                        "message": "Gleichzeitig wurde dasselbe geändert – nichts gebucht. "
                        "Bitte als neues Ereignis erneut senden.",
                    },
                )
            body = {"event_id": event.id, "type": event.type, **outcome.body}
            row = await session.get(PlatformEvent, event.id)
            assert row is not None
            row.http_status = outcome.http_status
            row.answer = body
            return Outcome(outcome.http_status, body)
    except _Unprocessable as refused:
        return refused.outcome
