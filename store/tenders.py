"""Tender commands: start, offers, selection and closing (rules T1–T10), each in the caller's
transaction, for Slack, CLI and scheduler alike."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from store.actors import Actor, require_backoffice
from store.advice import VIA_MODULE, contact_advice
from store.dialect import upsert
from store.errors import (
    AccessDenied,
    AlreadyDone,
    InvalidInput,
    NotFound,
    ReasonRequired,
    RecalculationLocked,
    TenderClosed,
)
from store.logcontext import bind
from store.models import (
    FINISHED,
    Consultation,
    Conversation,
    Offer,
    ProductLine,
    ReferenceCounter,
    Tender,
    TenderStatus,
)
from store.money import to_cents
from store.outbox import enqueue_for_broker
from store.products import product_label
from store.tender_input import StartTender
from store.tender_queries import broker_of, get_tender
from store.types import utcnow

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
        select(Tender.reference).where(
            Tender.product_line_id == line.id, Tender.status == TenderStatus.OPEN
        )
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
        if previous.status != TenderStatus.NO_OFFERS:
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
        status=TenderStatus.OPEN,
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
    tender.status = TenderStatus.SELECTED
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
        session, actor, reference, TenderStatus.NO_OFFERS, "„Keine Angebote“ melden"
    )


async def close_tender(session: AsyncSession, actor: Actor, reference: str) -> Tender:
    return await _finish_by_backoffice(
        session, actor, reference, TenderStatus.CLOSED, "Ausschreibungen abschließen"
    )
