"""Tenders and their offers: rules T1–T10, enforced for Slack, CLI and scheduler alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import and_, event, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, joinedload, selectinload

from store.actors import NOT_YOURS, Actor, check_tender_access, require_backoffice
from store.advice import VIA_MODULE, contact_advice
from store.dialect import upsert
from store.errors import (
    AccessDenied,
    AlreadyDone,
    InvalidInput,
    NotFound,
    ReasonRequired,
    RecalculationLocked,
    RiskFrozen,
    TenderClosed,
)
from store.logcontext import bind
from store.models import (
    Broker,
    Consultation,
    Conversation,
    Offer,
    ProductLine,
    ReferenceCounter,
    Tender,
)
from store.money import format_eur, to_cents
from store.outbox import enqueue_for_broker
from store.products import normalise_product, product_label
from store.types import utcnow

OPEN = "open"
SELECTED = "selected"
NO_OFFERS = "no_offers"
CLOSED = "closed"
FINISHED = frozenset({SELECTED, NO_OFFERS, CLOSED})

STATUS_LABELS = {
    OPEN: "läuft",
    SELECTED: "Angebot ausgewählt",
    NO_OFFERS: "keine Angebote",
    CLOSED: "abgeschlossen",
}

REFERENCE_PATTERN = r"^AS-\d{4}-\d{4,}$"

# One limit per free-text field, for the command, the start dialog and the store alike. None
# may exceed 3000: Slack's plain-text input allows no longer max_length, so a longer limit
# here would accept from the command what the dialog can never take.
CUSTOMER_NAME_MAX = 200
PRIOR_CLAIMS_MAX = 2000
DESCRIPTION_MAX = 3000
REASON_MAX = 2000


class RiskData(BaseModel):
    """The risk as the broker described it at start; frozen from then on (rule T3)."""

    model_config = ConfigDict(str_strip_whitespace=True, frozen=True)

    deductible: Decimal | None = Field(None, ge=0, description="Selbstbeteiligung in EUR")
    prior_claims: str = Field(min_length=1, max_length=PRIOR_CLAIMS_MAX)
    description: str = Field(min_length=1, max_length=DESCRIPTION_MAX)


class StartTender(BaseModel):
    """Rule T1 (and T2 when calculator offers exist): one product of one consultation."""

    model_config = ConfigDict(str_strip_whitespace=True, frozen=True)

    product: str
    customer_name: str = Field(min_length=1, max_length=CUSTOMER_NAME_MAX)
    risk: RiskData
    reason: str | None = Field(None, max_length=REASON_MAX)
    # An existing product line of the broker's consultation; None starts a new one.
    product_line_id: int | None = None
    # The platform's consultation id (``beratung=…``): the tender joins the newest line of
    # this product there, next to its calculator offers (T2).
    consultation: str | None = Field(None, max_length=64)
    previous_reference: str | None = None

    @field_validator("product")
    @classmethod
    def _known_product(cls, value: str) -> str:
        product = normalise_product(value)
        if product is None:
            raise ValueError(f"unknown product {value!r}")
        return product


START_FIELD_LABELS = {
    "product": "Sparte",
    "customer_name": "Kunde",
    "risk.deductible": "Selbstbeteiligung",
    "risk.prior_claims": "Vorschäden",
    "risk.description": "Risikobeschreibung",
    "reason": "Grund",
    "consultation": "Beratung",
}


def _start_problem(problem: Any) -> str:
    """What is wrong with one start field, in German (pydantic's own text is English)."""
    limit = (problem.get("ctx") or {}).get("max_length")
    if problem["type"] == "string_too_long" and limit is not None:
        return f"höchstens {limit} Zeichen"
    if problem["type"] in ("string_too_short", "missing"):
        return "fehlt"
    if problem["type"] == "greater_than_equal":
        return "darf nicht negativ sein"
    return "ungültig"


def parse_start(**fields: Any) -> StartTender:
    try:
        return StartTender.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        label = START_FIELD_LABELS.get(field, field)
        raise InvalidInput(f"Angabe „{label}“: {_start_problem(first)}.", field) from None


# -- rule T3: no update path for the frozen risk -------------------------------------------

FROZEN_COLUMNS = ("risk", "customer_name", "product_line_id", "broker_id", "reference")


@event.listens_for(Session, "before_flush")
def _refuse_risk_changes(session: Session, _context: Any, _instances: Any) -> None:
    for instance in session.dirty:
        if not isinstance(instance, Tender):
            continue
        state = instance.__dict__.get("_sa_instance_state")
        if state is None:
            continue
        for column in FROZEN_COLUMNS:
            if state.attrs[column].history.has_changes():
                raise RiskFrozen(
                    "Die Risikodaten einer Ausschreibung können nach dem Start nicht mehr "
                    "geändert werden. Teilen Sie Änderungen dem Backoffice bitte als "
                    "Nachricht mit."
                )


# -- reading -------------------------------------------------------------------------------


async def get_tender(session: AsyncSession, actor: Actor, reference: str) -> Tender:
    tender = await session.scalar(
        select(Tender)
        .where(Tender.reference == reference.strip().upper())
        .options(selectinload(Tender.offers), selectinload(Tender.product_line))
    )
    return _accessible(actor, reference, tender)


async def get_tender_without_offers(session: AsyncSession, actor: Actor, reference: str) -> Tender:
    """``get_tender`` for callers that never look at the offers: one statement, the product
    line joined, instead of a second round trip that loads every offer."""
    tender = await session.scalar(
        select(Tender)
        .where(Tender.reference == reference.strip().upper())
        .options(joinedload(Tender.product_line, innerjoin=True))
    )
    return _accessible(actor, reference, tender)


async def tender_for_card(session: AsyncSession, tender_id: int) -> tuple[Tender, Broker, int]:
    """The tender (product line joined), its broker and its offer count: what a card shows.

    For the queue's card sender, which acts for the system, not for a person."""
    tender = await session.scalar(
        select(Tender)
        .where(Tender.id == tender_id)
        .options(joinedload(Tender.product_line, innerjoin=True))
    )
    assert tender is not None  # the queue row was written with the tender
    return tender, await broker_of(session, tender), await count_tender_offers(session, tender_id)


def _accessible(actor: Actor, reference: str, tender: Tender | None) -> Tender:
    # Every later log line of this request names the tender it is about.
    bind(reference=reference.strip().upper())
    if tender is None:
        if actor.is_backoffice:
            raise NotFound(f"Eine Ausschreibung {reference} gibt es nicht.")
        raise AccessDenied(NOT_YOURS)
    check_tender_access(actor, tender)
    return tender


async def list_tenders(
    session: AsyncSession, actor: Actor, *, open_only: bool = False, limit: int = 50
) -> list[Tender]:
    # Many-to-one: joined in the same statement, one round trip instead of two.
    query = (
        select(Tender)
        .options(joinedload(Tender.product_line, innerjoin=True))
        .order_by(Tender.id.desc())
    )
    if not actor.is_backoffice:
        query = query.where(Tender.broker_id == actor.broker_id)
    if open_only:
        query = query.where(Tender.status == OPEN)
    return list(await session.scalars(query.limit(limit)))


@dataclass(frozen=True)
class OfferOverview:
    """All offers of the tender's product line: calculator and tender offers (T2, T7)."""

    tender: Tender
    calculator: list[Offer]
    from_tender: list[Offer]


async def offer_overview(session: AsyncSession, actor: Actor, reference: str) -> OfferOverview:
    tender = await get_tender(session, actor, reference)
    offers = list(
        await session.scalars(
            select(Offer).where(Offer.product_line_id == tender.product_line_id).order_by(Offer.id)
        )
    )
    return OfferOverview(
        tender=tender,
        calculator=[offer for offer in offers if offer.source == "calculator"],
        from_tender=[offer for offer in offers if offer.tender_id == tender.id],
    )


@dataclass(frozen=True)
class OpenTenderSummary:
    tender: Tender
    offer_count: int  # offers from the tender (T7), not the calculator's


@dataclass(frozen=True)
class HomeSummary:
    """The actor's newest open tenders, and the newest offers on their product lines."""

    open_tenders: list[OpenTenderSummary]
    newest_offers: list[tuple[str, Offer]]  # (reference of the open tender, offer)


async def home_summary(session: AsyncSession, actor: Actor, limit: int) -> HomeSummary:
    """What ``offer_overview`` per open tender would give, in three queries for all of them.

    An open tender's offers are its own plus the calculator offers of its product line (T2,
    T7); a line has at most one open tender, so each offer belongs to one reference.
    """
    tenders = await list_tenders(session, actor, open_only=True, limit=limit)
    if not tenders:
        return HomeSummary(open_tenders=[], newest_offers=[])
    by_id = {tender.id: tender for tender in tenders}
    by_line = {tender.product_line_id: tender for tender in tenders}
    counted = await session.execute(
        select(Offer.tender_id, func.count())
        .where(Offer.tender_id.in_(by_id))
        .group_by(Offer.tender_id)
    )
    counts: dict[int | None, int] = {tender_id: count for tender_id, count in counted}
    offers = await session.scalars(
        select(Offer)
        .where(
            or_(
                Offer.tender_id.in_(by_id),
                and_(Offer.source == "calculator", Offer.product_line_id.in_(by_line)),
            )
        )
        .order_by(Offer.id.desc())
        .limit(limit)
    )
    newest = [
        (by_id[offer.tender_id] if offer.tender_id else by_line[offer.product_line_id], offer)
        for offer in offers
    ]
    return HomeSummary(
        open_tenders=[OpenTenderSummary(tender, counts.get(tender.id, 0)) for tender in tenders],
        newest_offers=[(tender.reference, offer) for tender, offer in newest],
    )


async def count_tender_offers(session: AsyncSession, tender_id: int) -> int:
    """Offers the backoffice added to this tender (T7), without the calculator's."""
    count = await session.scalar(
        select(func.count()).select_from(Offer).where(Offer.tender_id == tender_id)
    )
    return count or 0


async def broker_of(session: AsyncSession, tender: Tender) -> Broker:
    broker = await session.get(Broker, tender.broker_id)
    assert broker is not None  # foreign key
    return broker


# -- starting ------------------------------------------------------------------------------


async def next_reference(session: AsyncSession, year: int) -> str:
    """``AS-<year>-<seq>``: one atomic upsert, so concurrent starts never share a number."""
    statement = (
        upsert(session, ReferenceCounter)
        .values(year=year, last=1)
        .on_conflict_do_update(
            index_elements=[ReferenceCounter.year],
            set_={"last": ReferenceCounter.last + 1},
        )
        .returning(ReferenceCounter.last)
    )
    number = (await session.execute(statement)).scalar_one()
    return f"AS-{year}-{number:04d}"


async def _product_line_for(
    session: AsyncSession, actor: Actor, request: StartTender
) -> ProductLine:
    if request.product_line_id is not None:
        line = await session.get(ProductLine, request.product_line_id)
        if line is None:
            raise NotFound("Diese Sparte gibt es nicht.")
        consultation = await session.get(Consultation, line.consultation_id)
        if consultation is None or consultation.broker_id != actor.broker_id:
            raise AccessDenied("Diese Sparte gehört nicht zu Ihren Beratungen.")
        if line.product != request.product:
            raise InvalidInput("Die Sparte passt nicht zum gewählten Produkt.", "product")
        return line
    if request.consultation:
        consultation = await session.scalar(
            select(Consultation).where(Consultation.external_id == request.consultation)
        )
        if consultation is None or consultation.broker_id != actor.broker_id:
            raise NotFound(
                f"Eine Beratung {request.consultation} gibt es bei Ihnen nicht.",
                field="consultation",
            )
    else:
        consultation = await session.scalar(
            select(Consultation)
            .where(
                Consultation.broker_id == actor.broker_id,
                Consultation.customer_name == request.customer_name,
            )
            .order_by(Consultation.id)
            .limit(1)
        )
    if consultation is None:
        consultation = Consultation(broker_id=actor.broker_id, customer_name=request.customer_name)
        session.add(consultation)
        await session.flush()
    line = await session.scalar(
        select(ProductLine)
        .where(
            ProductLine.consultation_id == consultation.id,
            ProductLine.product == request.product,
        )
        .order_by(ProductLine.id.desc())
    )
    if line is None:
        line = ProductLine(consultation_id=consultation.id, product=request.product)
        session.add(line)
        await session.flush()
    return line


async def start_tender(session: AsyncSession, actor: Actor, request: StartTender) -> Tender:
    """Rules T1–T5: freeze the risk, hand out the reference, tell the backoffice."""
    if actor.is_backoffice or actor.broker_id is None:
        raise AccessDenied("Eine Ausschreibung startet der Vermittler.")
    line = await _product_line_for(session, actor, request)
    running = await session.scalar(
        select(Tender.reference).where(Tender.product_line_id == line.id, Tender.status == OPEN)
    )
    if running is not None:
        raise AlreadyDone(
            f"Für diese Sparte läuft bereits die Ausschreibung {running}. "
            "Änderungen teilen Sie dem Backoffice bitte als Nachricht mit.",
            field="product",
        )
    calculator_offers = await session.scalar(
        select(func.count())
        .select_from(Offer)
        .where(Offer.product_line_id == line.id, Offer.source == "calculator")
    )
    if calculator_offers and not (request.reason or "").strip():
        raise ReasonRequired(
            "Für diese Sparte liegen bereits Angebote aus dem Tarifrechner vor. "
            "Bitte geben Sie einen Grund an, warum Sie weitere Angebote anfordern (grund=…).",
            field="reason",
        )
    previous_id: int | None = None
    if request.previous_reference:
        previous = await get_tender(session, actor, request.previous_reference)
        if previous.status != NO_OFFERS:
            raise InvalidInput(
                "Eine neue Ausschreibung mit angepasstem Risiko ist möglich, wenn für die "
                "vorige keine Angebote abgegeben werden konnten.",
                "previous_reference",
            )
        previous_id = previous.id
    # rule T6: from now on the calculator offers of this line cannot be recalculated.
    line.recalculation_locked = True
    now = utcnow()
    reference = await next_reference(session, now.year)
    bind(reference=reference)
    tender = Tender(
        reference=reference,
        product_line_id=line.id,
        broker_id=actor.broker_id,
        status=OPEN,
        reason=(request.reason or None),
        customer_name=request.customer_name,
        risk=request.risk.model_dump(mode="json"),
        previous_tender_id=previous_id,
        created_at=now,
    )
    session.add(tender)
    await session.flush()
    await session.refresh(tender, ["offers", "product_line"])
    return tender


# -- offers --------------------------------------------------------------------------------


def _premium_cents(premium: Decimal) -> int:
    if premium <= 0:
        raise InvalidInput("Der Jahresbeitrag muss größer als 0 € sein.", "premium")
    return to_cents(premium)


async def add_calculator_offer(
    session: AsyncSession, line: ProductLine, insurer: str, premium: Decimal, valid_until: date
) -> Offer:
    """A tariff calculator result; refused once a tender locked the line (rule T6)."""
    if line.recalculation_locked:
        raise RecalculationLocked(
            "Für diese Sparte wurde eine Ausschreibung gestartet: Angebote aus dem Tarifrechner "
            "können nicht neu berechnet werden. Fügen Sie der Beratung eine neue Sparte hinzu."
        )
    offer = Offer(
        product_line_id=line.id,
        source="calculator",
        insurer=insurer,
        premium_cents=_premium_cents(premium),
        valid_until=valid_until,
    )
    session.add(offer)
    await session.flush()
    return offer


async def add_offer(
    session: AsyncSession,
    actor: Actor,
    reference: str,
    *,
    insurer: str,
    premium: Decimal,
    valid_until: date,
    today: date,
) -> Offer:
    """The backoffice adds an insurer's offer (T7) and the broker is told (N1)."""
    require_backoffice(actor, "Angebote einstellen")
    tender = await get_tender(session, actor, reference)
    _refuse_if_finished(tender)
    insurer = insurer.strip()
    if not insurer or len(insurer) > 200:
        raise InvalidInput("Bitte den Versicherer angeben (höchstens 200 Zeichen).", "insurer")
    if valid_until < today:
        raise InvalidInput(
            "Das Angebot wäre bereits abgelaufen: gültig-bis liegt in der Vergangenheit.",
            "valid_until",
        )
    offer = Offer(
        product_line_id=tender.product_line_id,
        tender_id=tender.id,
        source="tender",
        insurer=insurer,
        premium_cents=_premium_cents(premium),
        valid_until=valid_until,
        added_by=actor.slack_user_id,
    )
    session.add(offer)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise AlreadyDone("Dieses Angebot ist bereits eingetragen.") from None
    broker = await broker_of(session, tender)
    await enqueue_for_broker(
        session,
        broker,
        "offer_available",
        {
            "reference": tender.reference,
            "product": tender.product_line.product,
            "product_label": product_label(tender.product_line.product),
            "insurer": offer.insurer,
            "premium": str(Decimal(offer.premium_cents) / 100),
            "premium_text": format_eur(offer.premium_cents),
            "valid_until": valid_until.isoformat(),
            "customer_name": tender.customer_name,
        },
        dedupe_key=f"offer:{offer.id}",
    )
    return offer


async def select_offer(
    session: AsyncSession,
    actor: Actor,
    reference: str,
    offer_id: int,
    *,
    today: date,
    contact: str | None = None,
) -> Tender:
    """Rule T8: the broker picks one offer (tender or calculator) and goes on.

    An expired offer is refused with rule T10's advice; ``contact`` is the start page's
    contact details for where no message module is open."""
    tender = await get_tender(session, actor, reference)
    if actor.is_backoffice:
        raise AccessDenied("Ein Angebot wählt der Vermittler aus.")
    _refuse_if_finished(tender)
    offer = await session.get(Offer, offer_id)
    if offer is None or offer.product_line_id != tender.product_line_id:
        raise NotFound("Dieses Angebot gehört nicht zu der Ausschreibung.")
    if offer.valid_until is not None and offer.valid_until < today:
        # rule T10
        opened = await session.scalar(
            select(Conversation.opened_at).where(Conversation.tender_id == tender.id)
        )
        advice = (
            VIA_MODULE.format(reference=tender.reference)
            if opened is not None
            else contact_advice(contact) + "."
        )
        raise InvalidInput(f"Dieses Angebot ist abgelaufen. {advice}")
    tender.status = SELECTED
    tender.selected_offer_id = offer.id
    tender.closed_at = utcnow()
    await session.flush()
    return tender


async def _finish_by_backoffice(
    session: AsyncSession, actor: Actor, reference: str, status: str, what: str
) -> Tender:
    require_backoffice(actor, what)
    tender = await get_tender(session, actor, reference)
    _refuse_if_finished(tender)
    tender.status = status
    tender.closed_at = utcnow()
    await session.flush()
    return tender


def _refuse_if_finished(tender: Tender) -> None:
    if tender.status in FINISHED:
        raise TenderClosed(f"Die Ausschreibung {tender.reference} ist bereits abgeschlossen.")


async def mark_no_offers(session: AsyncSession, actor: Actor, reference: str) -> Tender:
    """Rule T9: no insurer could offer; the broker may start again with an adjusted risk."""
    return await _finish_by_backoffice(
        session, actor, reference, NO_OFFERS, "„Keine Angebote“ melden"
    )


async def close_tender(session: AsyncSession, actor: Actor, reference: str) -> Tender:
    return await _finish_by_backoffice(
        session, actor, reference, CLOSED, "Ausschreibungen abschließen"
    )


async def expiring_offers(session: AsyncSession, today: date, within_days: int) -> list[Offer]:
    """Rule T10: tender offers running out soon on tenders where nothing was selected."""
    query = (
        select(Offer)
        .join(Tender, Offer.tender_id == Tender.id)
        .where(
            Tender.status == OPEN,
            Offer.valid_until >= today,
            Offer.valid_until <= today + timedelta(days=within_days),
        )
        .options(selectinload(Offer.tender))
        .order_by(Offer.valid_until, Offer.id)
    )
    return list(await session.scalars(query))
