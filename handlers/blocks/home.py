"""The App Home tab: what is open, the newest offers and the budget (broker) or the desk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from handlers.blocks.base import Block, context, divider, escape, fields, header, line_sections
from handlers.blocks.budget import entry_line
from handlers.blocks.offers import offer_line
from pricing.formats import format_euro
from store.models import LedgerEntry, Offer, Tender
from store.products import product_label

HOME_LIMIT = 20
BERLIN = ZoneInfo("Europe/Berlin")


@dataclass(frozen=True)
class OpenTender:
    tender: Tender
    offer_count: int


@dataclass(frozen=True)
class BrokerHome:
    name: str
    open_tenders: Sequence[OpenTender]
    newest_offers: Sequence[tuple[str, Offer]]  # (reference, offer)
    balance: Decimal
    credit_limit: Decimal
    # The latest bookings, newest first (charges and Storno with policy and tender).
    entries: Sequence[LedgerEntry] = ()


@dataclass(frozen=True)
class BackofficeHome:
    open_tenders: Sequence[OpenTender]


def _open_lines(open_tenders: Sequence[OpenTender]) -> list[str]:
    lines = []
    for item in open_tenders[:HOME_LIMIT]:
        tender = item.tender
        count = "1 Angebot" if item.offer_count == 1 else f"{item.offer_count} Angebote"
        lines.append(
            f"• *{tender.reference}* – {product_label(tender.product_line.product)} für "
            f"{escape(tender.customer_name)} · {count}"
        )
    return lines


HEADER_BLOCK = "home_header"


def _view(blocks: list[Block]) -> dict[str, Any]:
    return {"type": "home", "blocks": blocks}


def broker_home(data: BrokerHome, *, today: date, zone: ZoneInfo = BERLIN) -> dict[str, Any]:
    blocks: list[Block] = [
        header(f"Ausschreibungen – {data.name}", block_id=HEADER_BLOCK),
        section_title("Offene Ausschreibungen"),
    ]
    if data.open_tenders:
        blocks.extend(line_sections(_open_lines(data.open_tenders)))
    else:
        blocks.append(
            context("Keine offenen Ausschreibungen. Neue Ausschreibung: `/ausschreibung`")
        )
    blocks += [divider(), section_title("Neueste Angebote")]
    if data.newest_offers:
        lines = [
            f"{reference} · {offer_line(offer, today=today, selected=False)}"
            for reference, offer in data.newest_offers[:HOME_LIMIT]
        ]
        blocks.extend(line_sections(lines))
        blocks.append(context("Auswählen: `/angebote AS-…`"))
    else:
        blocks.append(context("Noch keine Angebote."))
    blocks += [
        divider(),
        section_title("Konzeptrabattkonto"),
        fields(
            [
                ("Saldo", format_euro(data.balance)),
                ("Verfügbar inkl. Kredit", format_euro(data.balance + data.credit_limit)),
            ]
        ),
    ]
    if data.entries:
        blocks.extend(line_sections([entry_line(entry, zone) for entry in data.entries]))
    blocks.append(context("Buchungen: `/budget` · Rabattfragen: `/rabatt hilfe`"))
    return _view(blocks)


def backoffice_home(data: BackofficeHome) -> dict[str, Any]:
    blocks: list[Block] = [
        header("Backoffice – Ausschreibungen", block_id=HEADER_BLOCK),
        section_title("Offene Ausschreibungen"),
    ]
    if data.open_tenders:
        blocks.extend(line_sections(_open_lines(data.open_tenders)))
        blocks.append(context("Angebot einstellen: `/angebot AS-…` · Übersicht: `/angebote AS-…`"))
    else:
        blocks.append(context("Zurzeit gibt es keine offenen Ausschreibungen."))
    return _view(blocks)


def stranger_home(explanation: str) -> dict[str, Any]:
    """Someone neither broker nor backoffice opened the app: say why nothing is shown."""
    return _view([header("tenderbot", block_id=HEADER_BLOCK), context(escape(explanation))])


def section_title(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": f"*{text}*"}}
