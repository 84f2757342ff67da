"""Offers from the tariff calculator (rules T2, T6), as the platform reports them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import InvalidInput, RecalculationLocked
from store.models import Broker, Consultation, Offer, ProductLine
from store.money import to_cents
from store.products import normalise_product, product_label
from store.tenders import add_calculator_offer

LINE_LOCKED = "line_locked"


@dataclass(frozen=True)
class CalculatorOfferData:
    consultation_id: str
    product: str
    insurer: str
    premium: Decimal
    valid_until: date
    offer_id: str
    new_line: bool = False
    broker_number: str | None = None
    customer_name: str | None = None


@dataclass(frozen=True)
class CalculatorResult:
    offer: Offer
    line: ProductLine
    recalculated: bool
    new_line: bool


async def _consultation(session: AsyncSession, data: CalculatorOfferData) -> Consultation:
    consultation = await session.scalar(
        select(Consultation).where(Consultation.external_id == data.consultation_id)
    )
    if consultation is not None:
        return consultation
    if not data.broker_number or not data.customer_name:
        raise InvalidInput(
            f"Die Beratung {data.consultation_id} ist noch nicht bekannt: beim ersten Angebot "
            "bitte auch broker_number und customer_name mitgeben.",
            "broker_number" if not data.broker_number else "customer_name",
        )
    broker_id = await session.scalar(select(Broker.id).where(Broker.number == data.broker_number))
    if broker_id is None:
        raise InvalidInput(
            f"Die Vermittlernummer {data.broker_number} ist nicht bekannt.", "broker_number"
        )
    consultation = Consultation(
        broker_id=broker_id, customer_name=data.customer_name, external_id=data.consultation_id
    )
    session.add(consultation)
    await session.flush()
    return consultation


async def newest_line(
    session: AsyncSession, consultation_id: int, product: str
) -> ProductLine | None:
    line: ProductLine | None = await session.scalar(
        select(ProductLine)
        .where(ProductLine.consultation_id == consultation_id, ProductLine.product == product)
        .order_by(ProductLine.id.desc())
        .limit(1)
    )
    return line


def locked_message(product: str) -> str:
    return (
        f"Für die Sparte {product_label(product)} dieser Beratung läuft bzw. lief eine "
        "Ausschreibung: ihre Angebote aus dem Tarifrechner können nicht neu berechnet werden "
        "(T6). Legen Sie dafür eine neue Sparte der Beratung an (calculator.offer mit "
        '"new_line": true).'
    )


async def record_calculator_offer(
    session: AsyncSession, data: CalculatorOfferData
) -> CalculatorResult:
    """Add or recalculate (same ``offer_id``) a calculator offer of the consultation's newest
    line of that product; ``new_line`` opens a new line first (the way out of T6)."""
    product = normalise_product(data.product)
    if product is None:
        raise InvalidInput(f"Die Sparte „{data.product}“ ist unbekannt.", "sparte")
    consultation = await _consultation(session, data)
    line = None if data.new_line else await newest_line(session, consultation.id, product)
    opened = line is None
    if line is None:
        line = ProductLine(consultation_id=consultation.id, product=product)
        session.add(line)
        await session.flush()
    if line.recalculation_locked:
        raise RecalculationLocked(locked_message(product), code=LINE_LOCKED)
    existing = await session.scalar(
        select(Offer).where(Offer.product_line_id == line.id, Offer.external_id == data.offer_id)
    )
    if existing is not None:
        if data.premium <= 0:
            raise InvalidInput("Der Jahresbeitrag muss größer als 0 € sein.", "premium")
        existing.insurer = data.insurer
        existing.premium_cents = to_cents(data.premium)
        existing.valid_until = data.valid_until
        await session.flush()
        return CalculatorResult(existing, line, recalculated=True, new_line=False)
    offer = await add_calculator_offer(session, line, data.insurer, data.premium, data.valid_until)
    offer.external_id = data.offer_id
    await session.flush()
    return CalculatorResult(offer, line, recalculated=False, new_line=opened and data.new_line)
