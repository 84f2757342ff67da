"""Tender cards (backoffice channel and broker DM) and the tender list."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from handlers.blocks.base import (
    Block,
    actions,
    button,
    confirm_dialog,
    context,
    divider,
    escape,
    fields,
    fits_field,
    header,
    labelled_sections,
    line_sections,
    message,
    plain,
    section,
)
from handlers.blocks.documents import Document, documents_texts
from handlers.blocks.split import paginate, split_text
from pricing.formats import format_euro
from store.models import Broker, Tender, TenderStatus
from store.products import product_label
from store.tender_queries import TenderList

OFFER_OPEN_ACTION = "tender_offer_open"
QUERY_OPEN_ACTION = "tender_query_open"
NO_OFFERS_ACTION = "tender_no_offers"
RISK_MORE_ACTION = "tender_risk_more"
CARD_ACTIONS_BLOCK = "tender_card_actions"
RISK_MORE_BLOCK = "tender_risk_more"
# Both cards: the title and the line with who asks and the status, found by these ids.
CARD_HEADER_BLOCK = "tender_card_header"
CARD_STATUS_BLOCK = "tender_card_status"
CARD_NOTE_BLOCK = "tender_card_note"
RISK_HEADING_BLOCK = "risk_heading"
# The risk texts a card shows in full; past it (the texts are long and full of characters
# Slack escapes) the card shows their beginnings and "mehr anzeigen" opens the whole risk,
# so the card stays within what one Slack message holds (msg_blocks_too_long).
CARD_RISK_TEXT = 8000
PREVIEW = 600
LIST_TEXT = 10_000


STATUS_LABELS: dict[str, str] = {
    TenderStatus.OPEN: "läuft",
    TenderStatus.SELECTED: "Angebot ausgewählt",
    TenderStatus.NO_OFFERS: "keine Angebote",
    TenderStatus.CLOSED: "abgeschlossen",
}


def status_label(status: str) -> str:
    return STATUS_LABELS.get(status, status)


def deductible_text(risk: dict[str, Any]) -> str:
    raw = risk.get("deductible")
    if raw is None or raw == "":
        return "keine"
    return format_euro(Decimal(str(raw)))


def risk_fields(tender: Tender) -> list[tuple[str, str]]:
    """The risk exactly as frozen at start (rule T3)."""
    risk = tender.risk
    return [
        ("Kunde", escape(tender.customer_name)),
        ("Sparte", product_label(tender.product_line.product)),
        ("Selbstbeteiligung", deductible_text(risk)),
        ("Vorschäden", escape(str(risk.get("prior_claims", "")))),
    ]


def _risk_texts(tender: Tender) -> list[tuple[str, str]]:
    """The free texts of the risk, escaped, with their labels."""
    texts = [pair for pair in risk_fields(tender) if not fits_field(*pair)]
    texts.append(("Risikobeschreibung", escape(str(tender.risk.get("description", "")))))
    if tender.reason:
        texts.append(("Grund für weitere Angebote", escape(tender.reason)))
    return texts


def risk_blocks(tender: Tender) -> list[Block]:
    """The whole frozen risk (rule T3): a text too long for one field or section goes on
    over the next sections, never cut off."""
    blocks = [fields([pair for pair in risk_fields(tender) if fits_field(*pair)])]
    for label, value in _risk_texts(tender):
        blocks.extend(labelled_sections(label, value))
    return blocks


def _risk_blocks(tender: Tender, documents: Sequence[Document] = ()) -> list[Block]:
    """The risk, then the start documents (T1); the documents' lines count against the
    card's text budget, so a long risk folds into the modal sooner."""
    if not documents:
        return _risk_or_preview(tender, CARD_RISK_TEXT)
    listed = documents_texts(documents)
    budget = CARD_RISK_TEXT - sum(len(text) for text in listed)
    return [*_risk_or_preview(tender, budget), *map(section, listed)]


def _risk_or_preview(tender: Tender, budget: int) -> list[Block]:
    if sum(len(value) for _label, value in _risk_texts(tender)) <= budget:
        return risk_blocks(tender)
    blocks = [fields([pair for pair in risk_fields(tender) if fits_field(*pair)])]
    for label, value in _risk_texts(tender):
        preview = value if len(value) <= PREVIEW else split_text(value, PREVIEW)[0].rstrip() + " …"
        blocks.extend(labelled_sections(label, preview))
    blocks.append(
        actions(
            RISK_MORE_BLOCK,
            button("Ganze Risikobeschreibung anzeigen", RISK_MORE_ACTION, tender.reference),
        )
    )
    return blocks


def risk_modal(tender: Tender) -> dict[str, Any]:
    """Everything the broker wrote at start, for a card that could show only the beginning."""
    return {
        "type": "modal",
        "title": plain("Risikodaten"),
        "close": plain("Schließen"),
        "blocks": [
            context(
                f"*{tender.reference}* · {product_label(tender.product_line.product)} für "
                f"{escape(tender.customer_name)} · eingefroren seit dem Start (T3)",
                block_id=RISK_HEADING_BLOCK,
            ),
            *risk_blocks(tender),
        ],
    }


def backoffice_card(
    tender: Tender,
    broker: Broker,
    offer_count: int = 0,
    documents: Sequence[Document] = (),
) -> dict[str, Any]:
    """Rule T5: the backoffice learns of the tender with the frozen risk data."""
    reference = tender.reference
    status = f"Status: *{status_label(tender.status)}*"
    if offer_count:
        status += f" · Angebote eingestellt: {offer_count}"
    blocks: list[Block] = [
        header(f"Ausschreibung {reference}", block_id=CARD_HEADER_BLOCK),
        section(
            f"*{escape(broker.name)}* (Vermittler {escape(broker.number)}) bittet um Angebote."
            f"\n{status}",
            block_id=CARD_STATUS_BLOCK,
        ),
        *_risk_blocks(tender, documents),
        context(
            "Die Risikodaten sind eingefroren (T3). Rückfragen an den Vermittler "
            "schreiben Sie im Thread dieser Nachricht.",
            block_id=CARD_NOTE_BLOCK,
        ),
    ]
    if tender.status == TenderStatus.OPEN:
        blocks.append(
            actions(
                CARD_ACTIONS_BLOCK,
                button("Angebot einstellen", OFFER_OPEN_ACTION, reference, style="primary"),
                button("Rückfrage stellen", QUERY_OPEN_ACTION, reference),
                button(
                    "Keine Angebote",
                    NO_OFFERS_ACTION,
                    reference,
                    style="danger",
                    confirm=confirm_dialog(
                        "Keine Angebote?",
                        f"Der Vermittler erfährt, dass für {reference} kein Versicherer "
                        "anbieten konnte. Die Ausschreibung wird damit abgeschlossen.",
                        "Ja, melden",
                    ),
                ),
            )
        )
    text = (
        f"Neue Ausschreibung {reference} von {escape(broker.name)}: "
        f"{product_label(tender.product_line.product)} für {escape(tender.customer_name)}"
    )
    return message(text, blocks)


def broker_card(tender: Tender, documents: Sequence[Document] = ()) -> dict[str, Any]:
    """Rule T4: the request confirmation with the reference."""
    reference = tender.reference
    blocks: list[Block] = [
        header(f"Anfragebestätigung {reference}", block_id=CARD_HEADER_BLOCK),
        section(
            f"Ihre Ausschreibung *{reference}* ist beim Backoffice eingegangen. "
            "Sobald Angebote vorliegen, erhalten Sie eine Nachricht und eine E-Mail."
            f"\nStatus: *{status_label(tender.status)}*",
            block_id=CARD_STATUS_BLOCK,
        ),
        *_risk_blocks(tender, documents),
        context(
            f"Angebote ansehen: `/angebote {reference}` · Verlauf: `/verlauf {reference}` · "
            "Rückfragen des Backoffice erscheinen im Thread dieser Nachricht.",
            block_id=CARD_NOTE_BLOCK,
        ),
    ]
    text = (
        f"Anfragebestätigung {reference}: {product_label(tender.product_line.product)} "
        f"für {escape(tender.customer_name)}"
    )
    return message(text, blocks)


def tender_list(listing: TenderList) -> dict[str, Any]:
    tenders, backoffice = listing.tenders, listing.backoffice
    title = "Offene Ausschreibungen" if backoffice else "Ihre Ausschreibungen"
    if not tenders:
        empty = (
            "Zurzeit gibt es keine offenen Ausschreibungen."
            if backoffice
            else "Sie haben noch keine Ausschreibung gestartet. Neue Ausschreibung: "
            "`/ausschreibung`"
        )
        return message(empty, [header(title), section(empty)])
    lines = [
        f"• *{tender.reference}* – {product_label(tender.product)} für "
        f"{escape(tender.customer_name)} – _{status_label(tender.status)}_"
        for tender in tenders
    ]
    # The list is newest first; what does not fit one Slack message is counted, not shown.
    shown = paginate(lines, LIST_TEXT, len(lines))[0]
    blocks: list[Block] = [header(title), *line_sections(shown)]
    more = len(lines) - len(shown)
    hint = "Angebote: `/angebote AS-…` · Verlauf: `/verlauf AS-…`"
    if more:
        hint = f"… und {more} ältere, hier nicht gezeigt. " + hint
    blocks += [divider(), context(hint)]
    return message(f"{title}: {len(tenders)}", blocks)
