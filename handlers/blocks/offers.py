"""The offer overview of a tender: tender offers marked apart from calculator offers (T7)."""

from __future__ import annotations

from datetime import date
from typing import Any

from handlers.blocks.base import (
    Block,
    actions,
    button,
    context,
    divider,
    escape,
    header,
    message,
    section,
)
from handlers.blocks.split import paginate
from handlers.blocks.tenders import status_label
from handlers.parsing import InputError, parse_reference
from pricing.formats import format_cents, format_date
from store.models import Offer, Tender, TenderStatus
from store.products import product_label
from store.tender_queries import OfferOverview

SELECT_ACTION = "offer_select"
NEXT_PAGE_ACTION = "offers_page_next"
PREVIOUS_PAGE_ACTION = "offers_page_previous"
PAGE_ACTIONS_BLOCK = "offers_pages"
HEADER_BLOCK = "offers_header"
SUMMARY_BLOCK = "offers_summary"
TENDER_GROUP_BLOCK = "offers_from_tender"
CALCULATOR_GROUP_BLOCK = "offers_from_calculator"
TENDER_MARK = "🟢 aus Ausschreibung"
CALCULATOR_MARK = "⚪ Tarifrechner"
# One offer is one block (its select button is the section's accessory); a message holds at
# most 50 blocks and about 12,000 characters of block text: more offers go on further pages.
OFFERS_PER_PAGE = 20
PAGE_TEXT = 9_000


def select_value(reference: str, offer_id: int) -> str:
    return f"{reference}|{offer_id}"


def page_value(reference: str, page: int) -> str:
    return f"{reference}|{page}"


def parse_page_value(value: str) -> tuple[str, int]:
    reference, _, page = value.partition("|")
    if not page.isdigit() or int(page) < 1:
        raise InputError("Diese Seite kann ich nicht zuordnen. Bitte `/angebote` neu aufrufen.")
    return parse_reference(reference), int(page)


def parse_select_value(value: str) -> tuple[str, int]:
    reference, _, offer_id = value.partition("|")
    if not offer_id.isdigit():
        raise InputError("Dieses Angebot kann ich nicht zuordnen. Bitte `/angebote` neu aufrufen.")
    return parse_reference(reference), int(offer_id)


def offer_line(offer: Offer, *, today: date, selected: bool) -> str:
    mark = TENDER_MARK if offer.source == "tender" else CALCULATOR_MARK
    line = f"{mark} · *{escape(offer.insurer)}* – {format_cents(offer.premium_cents)} Jahresbeitrag"
    if offer.valid_until is not None:
        expired = offer.valid_until < today
        line += f"\ngültig bis {format_date(offer.valid_until)}"
        if expired:
            line += " – _abgelaufen_"
    if selected:
        line += "\n✅ *ausgewählt*"
    return line


def offer_block_id(offer_id: int) -> str:
    """Each offer's section has its own id: the select button's click names it."""
    return f"offer_{offer_id}"


def _offer_block(offer: Offer, tender: Tender, *, today: date, selectable: bool) -> Block:
    selected = tender.selected_offer_id == offer.id
    expired = offer.valid_until is not None and offer.valid_until < today
    accessory = None
    if selectable and not expired:
        accessory = button(
            "Auswählen", SELECT_ACTION, select_value(tender.reference, offer.id), style="primary"
        )
    return section(
        offer_line(offer, today=today, selected=selected),
        accessory=accessory,
        block_id=offer_block_id(offer.id),
    )


def offer_count_text(count: int) -> str:
    return "1 Angebot" if count == 1 else f"{count} Angebote"


def offers_message(
    overview: OfferOverview, *, today: date, broker_view: bool, page: int = 1
) -> dict[str, Any]:
    """Rules T7/T8: both kinds of offers, a select button for the broker while open.

    Every offer is shown: past ``OFFERS_PER_PAGE`` the overview goes on over pages, with
    "Weitere Angebote anzeigen"; the count of all offers is always at the top.
    """
    tender = overview.tender
    selectable = broker_view and tender.status == TenderStatus.OPEN
    everything = [*overview.from_tender, *overview.calculator]
    lines = [offer_line(offer, today=today, selected=False) for offer in everything]
    sizes = paginate(lines, PAGE_TEXT, OFFERS_PER_PAGE) if everything else [[]]
    pages = len(sizes)
    page = min(max(page, 1), pages)
    first = sum(len(earlier) for earlier in sizes[: page - 1])
    last = first + len(sizes[page - 1])
    title = (
        f"Angebote zu {tender.reference}: {product_label(tender.product_line.product)} "
        f"für {escape(tender.customer_name)}"
    )
    summary = (
        f"{product_label(tender.product_line.product)} für "
        f"*{escape(tender.customer_name)}* · Status: *{status_label(tender.status)}* · "
        f"{offer_count_text(len(everything))}"
    )
    if pages > 1:
        summary += f" · Seite {page} von {pages}"
    blocks: list[Block] = [
        header(f"Angebote zu {tender.reference}", block_id=HEADER_BLOCK),
        section(summary, block_id=SUMMARY_BLOCK),
    ]
    groups = (
        (
            TENDER_GROUP_BLOCK,
            "*Angebote aus der Ausschreibung*",
            overview.from_tender,
            "Noch keine Angebote aus der Ausschreibung.",
        ),
        (
            CALCULATOR_GROUP_BLOCK,
            "*Angebote aus dem Tarifrechner*",
            overview.calculator,
            "Keine Angebote aus dem Tarifrechner.",
        ),
    )
    start = 0  # where the group begins in the list of all offers
    for group_block, heading, offers, empty in groups:
        on_page = list(offers[max(first - start, 0) : max(last - start, 0)])
        start += len(offers)
        if not on_page and (offers or page > 1):
            continue
        if pages > 1:
            heading += f" ({len(offers)})"
        blocks.append(divider())
        blocks.append(section(heading if offers else f"{heading}\n_{empty}_", block_id=group_block))
        blocks.extend(
            _offer_block(offer, tender, today=today, selectable=selectable) for offer in on_page
        )
    if pages > 1:
        blocks.append(_page_buttons(tender.reference, page, pages))
    hint = (
        "Abgelaufene Angebote können nicht ausgewählt werden – bitten Sie das Backoffice im "
        "Thread Ihrer Anfragebestätigung, den Versicherer zu kontaktieren (T10)."
        if broker_view
        else f"{TENDER_MARK} = Angebot aus der Ausschreibung, {CALCULATOR_MARK} = Tarifrechner"
    )
    blocks.append(context(hint))
    return message(title, blocks)


def _page_buttons(reference: str, page: int, pages: int) -> Block:
    buttons: list[Block] = []
    if page > 1:
        buttons.append(button("Zurück", PREVIOUS_PAGE_ACTION, page_value(reference, page - 1)))
    if page < pages:
        buttons.append(
            button("Weitere Angebote anzeigen", NEXT_PAGE_ACTION, page_value(reference, page + 1))
        )
    return actions(PAGE_ACTIONS_BLOCK, *buttons)


def offer_selected(tender: Tender, offer: Offer) -> dict[str, Any]:
    text = (
        f"✅ Sie haben für {tender.reference} das Angebot von *{escape(offer.insurer)}* "
        f"({format_cents(offer.premium_cents)} Jahresbeitrag) ausgewählt. Die Ausschreibung ist "
        "damit abgeschlossen; weiter geht es mit Antrag oder Deckungsauftrag."
    )
    return message(text, [section(text)])
