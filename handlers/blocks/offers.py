"""The offer overview of a tender: tender offers marked apart from calculator offers (T7)."""

from __future__ import annotations

from datetime import date
from typing import Any

from handlers.blocks.base import (
    Block,
    button,
    context,
    divider,
    escape,
    german_date,
    header,
    message,
    section,
)
from handlers.blocks.tenders import status_label
from handlers.parsing import InputError, parse_reference
from store.models import Offer, Tender
from store.money import format_eur
from store.products import product_label
from store.tenders import OPEN, OfferOverview

SELECT_ACTION = "offer_select"
TENDER_MARK = "🟢 aus Ausschreibung"
CALCULATOR_MARK = "⚪ Tarifrechner"
# A message holds at most 50 blocks; more offers than this per group are not realistic.
MAX_PER_GROUP = 20


def select_value(reference: str, offer_id: int) -> str:
    return f"{reference}|{offer_id}"


def parse_select_value(value: str) -> tuple[str, int]:
    reference, _, offer_id = value.partition("|")
    if not offer_id.isdigit():
        raise InputError("Dieses Angebot kann ich nicht zuordnen. Bitte `/angebote` neu aufrufen.")
    return parse_reference(reference), int(offer_id)


def offer_line(offer: Offer, *, today: date, selected: bool) -> str:
    mark = TENDER_MARK if offer.source == "tender" else CALCULATOR_MARK
    line = f"{mark} · *{escape(offer.insurer)}* – {format_eur(offer.premium_cents)} Jahresbeitrag"
    if offer.valid_until is not None:
        expired = offer.valid_until < today
        line += f"\ngültig bis {german_date(offer.valid_until)}"
        if expired:
            line += " – _abgelaufen_"
    if selected:
        line += "\n✅ *ausgewählt*"
    return line


def _offer_block(offer: Offer, tender: Tender, *, today: date, selectable: bool) -> Block:
    selected = tender.selected_offer_id == offer.id
    expired = offer.valid_until is not None and offer.valid_until < today
    accessory = None
    if selectable and not expired:
        accessory = button(
            "Auswählen", SELECT_ACTION, select_value(tender.reference, offer.id), style="primary"
        )
    return section(offer_line(offer, today=today, selected=selected), accessory=accessory)


def offers_message(overview: OfferOverview, *, today: date, broker_view: bool) -> dict[str, Any]:
    """Rules T7/T8: both kinds of offers, a select button for the broker while open."""
    tender = overview.tender
    selectable = broker_view and tender.status == OPEN
    title = (
        f"Angebote zu {tender.reference}: {product_label(tender.product_line.product)} "
        f"für {escape(tender.customer_name)}"
    )
    blocks: list[Block] = [
        header(f"Angebote zu {tender.reference}"),
        section(
            f"{product_label(tender.product_line.product)} für "
            f"*{escape(tender.customer_name)}* · Status: *{status_label(tender)}*"
        ),
    ]
    groups = (
        (
            "*Angebote aus der Ausschreibung*",
            overview.from_tender,
            "Noch keine Angebote aus der Ausschreibung.",
        ),
        (
            "*Angebote aus dem Tarifrechner*",
            overview.calculator,
            "Keine Angebote aus dem Tarifrechner.",
        ),
    )
    for heading, offers, empty in groups:
        blocks.append(divider())
        blocks.append(section(heading if offers else f"{heading}\n_{empty}_"))
        blocks.extend(
            _offer_block(offer, tender, today=today, selectable=selectable)
            for offer in offers[:MAX_PER_GROUP]
        )
    hint = (
        "Abgelaufene Angebote können nicht ausgewählt werden – bitten Sie das Backoffice im "
        "Thread Ihrer Anfragebestätigung, den Versicherer zu kontaktieren (T10)."
        if broker_view
        else f"{TENDER_MARK} = Angebot aus der Ausschreibung, {CALCULATOR_MARK} = Tarifrechner"
    )
    blocks.append(context(hint))
    return message(title, blocks)


def offer_selected(tender: Tender, offer: Offer) -> dict[str, Any]:
    text = (
        f"✅ Sie haben für {tender.reference} das Angebot von *{escape(offer.insurer)}* "
        f"({format_eur(offer.premium_cents)} Jahresbeitrag) ausgewählt. Die Ausschreibung ist "
        "damit abgeschlossen; weiter geht es mit Antrag oder Deckungsauftrag."
    )
    return message(text, [section(text)])
