"""Applying one platform event, once: the event id and its answer commit with the effect.

``apply_event`` is the single entry for ``POST /platform/events``, ``tenderbot platform
send/import`` and ``tenderbot budget charge/storno/credit``. Its answer is the HTTP answer:
200 booked/recorded/duplicate, 409 a refusal by a rule (kept, so a repeat gets it again),
422 input the desk cannot use (not kept: nothing happened, a corrected retry may pass).

Exactly once, also for two copies at the same moment on two replicas: the first statement
inserts the event id (``ON CONFLICT DO NOTHING``), so the second copy waits on the key until
the first commits, then finds the row and answers from it. A refusal rolls the effect back
and then stores the event row with the refusal as its answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
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
from store.db import take_write_turn, transaction
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


class _Refused(Exception):
    """Leaves the event's transaction so that its effect rolls back; ``keep`` says whether
    the refusal is the event's answer for good (a rule's 409) or not (422: nothing used)."""

    def __init__(self, outcome: Outcome, *, keep: bool) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome
        self.keep = keep


async def _claim(session: AsyncSession, event: PlatformEventIn, outcome: Outcome | None) -> bool:
    """Insert the event's row (with its answer, if known); False if the id is taken.

    A second copy of the event waits here on the key until the first commits."""
    claimed = await session.scalar(
        insert_ignoring_conflicts(session, PlatformEvent, returning=PlatformEvent.id).values(
            id=event.id,
            type=event.type,
            http_status=outcome.http_status if outcome else 0,
            answer=outcome.body if outcome else {},
            received_at=utcnow(),
        )
    )
    return claimed is not None


async def _stored(session: AsyncSession, event_id: str) -> Outcome:
    stored = await session.get(PlatformEvent, event_id, populate_existing=True)
    assert stored is not None  # the conflicting row is committed
    return _replay(stored)


def _with_event(event: PlatformEventIn, outcome: Outcome) -> Outcome:
    return Outcome(outcome.http_status, {"event_id": event.id, "type": event.type, **outcome.body})


async def apply_event(
    sessions: async_sessionmaker[AsyncSession], event: PlatformEventIn
) -> Outcome:
    """Apply ``event`` once and answer; a repeat of its id answers from the stored answer.

    The happy path is one transaction: claim the id, apply, store the answer, commit. A
    refusal rolls all of it back; a rule's refusal (409) is then stored on its own, and if
    a copy of the event got in first meanwhile, that copy's answer is the answer.
    """
    try:
        async with transaction(sessions) as session:
            await take_write_turn(session)
            if not await _claim(session, event, None):
                return await _stored(session, event.id)
            try:
                outcome = _with_event(event, await _service(event)(session))
            except (InvalidInput, NotFound) as error:
                raise _Refused(_invalid(error), keep=False) from None
            except DomainError as error:
                raise _Refused(_with_event(event, _refusal(event, error)), keep=True) from None
            except IntegrityError:
                # Another event changed the same thing at the same moment (the same
                # calculator offer twice, say): refuse, change nothing.
                conflict = Outcome(
                    409,
                    {
                        "code": "conflict",
                        "message": "Gleichzeitig wurde dasselbe geändert – nichts gebucht. "
                        "Bitte als neues Ereignis erneut senden.",
                    },
                )
                raise _Refused(_with_event(event, conflict), keep=True) from None
            await session.execute(
                update(PlatformEvent)
                .where(PlatformEvent.id == event.id)
                .values(http_status=outcome.http_status, answer=outcome.body)
            )
            return outcome
    except _Refused as refused:
        if not refused.keep:
            return refused.outcome
        answer = refused.outcome
    async with transaction(sessions) as session:
        await take_write_turn(session)
        if not await _claim(session, event, answer):
            return await _stored(session, event.id)
    return answer
