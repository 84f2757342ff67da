"""The Konzeptrabatt account as the broker sees it (rule B5)."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from handlers.blocks.base import Block, context, escape, fields, header, line_sections, message
from pricing.formats import format_cents, format_date, format_euro
from store.budget import Statement
from store.models import LedgerEntry, LedgerKind

# One label per booking kind, for Slack's /budget and App Home and for `tenderbot budget show`.
KIND_LABELS: dict[str, str] = {
    LedgerKind.DISTRIBUTION: "Budgetzuteilung",
    LedgerKind.CHARGE: "Konzeptrabatt gewährt",
    LedgerKind.STORNO: "Storno ab Beginn (Gutschrift)",
    LedgerKind.CREDIT: "Kreditrahmen gesetzt",
    LedgerKind.CORRECTION: "Korrektur",
}
# Bookings whose reference is a policy number (P3, B4).
POLICY_KINDS = frozenset({LedgerKind.CHARGE, LedgerKind.STORNO})
# Bookings whose reference is an internal audit id (the event that set the credit): not shown.
INTERNAL_REFERENCE_KINDS = frozenset({LedgerKind.CREDIT})
HOME_ENTRIES = 3


def entry_line(entry: LedgerEntry, zone: ZoneInfo) -> str:
    when = format_date(entry.created_at.astimezone(zone))
    label = KIND_LABELS.get(entry.kind, entry.kind)
    sign = "+" if entry.amount_cents > 0 else ""
    line = f"• {when} · {label} · *{sign}{format_cents(entry.amount_cents)}*"
    if entry.kind in POLICY_KINDS and entry.reference:
        line += f" · Police {escape(entry.reference)}"
    elif entry.reference and entry.kind not in INTERNAL_REFERENCE_KINDS:
        line += f" · {escape(entry.reference)}"
    if entry.tender_reference:
        line += f" · Ausschreibung {escape(entry.tender_reference)}"
    if entry.note:
        line += f" – _{escape(entry.note)}_"
    return line


def budget_message(
    statement: Statement, zone: ZoneInfo, *, owner: str | None = None
) -> dict[str, Any]:
    """The account; ``owner`` names the broker when the backoffice looks at it."""
    balance = format_euro(statement.balance)
    available = format_euro(statement.balance + statement.credit_limit)
    blocks: list[Block] = [
        header(f"Konzeptrabattkonto {owner}" if owner else "Ihr Konzeptrabattkonto"),
        fields(
            [
                ("Saldo", balance),
                ("Kreditrahmen", format_euro(statement.credit_limit)),
                ("Verfügbar inkl. Kredit", available),
            ]
        ),
    ]
    if statement.entries:
        lines = ["*Letzte Buchungen*"] + [entry_line(entry, zone) for entry in statement.entries]
        blocks.extend(line_sections(lines))
    else:
        blocks.append(context("Noch keine Buchungen."))
    blocks.append(
        context(
            "Das neue Budget wird einmal jährlich zur Jahresmitte zugeteilt (3 % des "
            "FirmenKonzept-Neugeschäfts des Vorjahres); Restbudget wird übertragen. "
            "Reicht das Konto nicht, wenden Sie sich an Ihre Geschäftsstelle."
        )
    )
    return message(f"Konzeptrabattkonto: Saldo {balance}, verfügbar {available}", blocks)
