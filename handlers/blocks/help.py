"""`hilfe` for every command: what it does and how to type it."""

from __future__ import annotations

from typing import Any

from handlers.blocks.base import context, header, message, section
from handlers.requests import OFFER_EXAMPLE, START_EXAMPLE
from store.products import PRODUCT_LABELS

_PRODUCTS = ", ".join(f"`{key}`" for key in PRODUCT_LABELS)

HEADER_BLOCK = "help_header"

HELP: dict[str, tuple[str, str]] = {
    "/ausschreibung": (
        "Ausschreibungen starten und ansehen",
        "• `/ausschreibung` – Formular für eine neue Ausschreibung öffnen\n"
        f"• `{START_EXAMPLE}`\n"
        '  optional: `grund="…"` (Pflicht, wenn schon Tarifrechner-Angebote vorliegen), '
        "`vorige=AS-…` (neuer Anlauf nach „keine Angebote“)\n"
        "• `/ausschreibung liste` – Ihre Ausschreibungen mit Status\n"
        f"Sparten: {_PRODUCTS}. Werte mit Leerzeichen in Anführungszeichen.",
    ),
    "/angebote": (
        "Angebote einer Ausschreibung vergleichen und auswählen",
        "• `/angebote AS-2026-0001` – alle Angebote, 🟢 aus der Ausschreibung und ⚪ aus "
        "dem Tarifrechner, mit Gültigkeit und „Auswählen“",
    ),
    "/angebot": (
        "Angebot einstellen (Backoffice)",
        f"• `{OFFER_EXAMPLE}`\n"
        "• `/angebot AS-2026-0001` – Formular öffnen\n"
        "Beträge wie `1.234,50` oder `1234.50 €`, Daten wie `31.12.2026` oder `2026-12-31`.",
    ),
    "/budget": (
        "Ihr Konzeptrabattkonto",
        "• `/budget` – Saldo, Kreditrahmen und die letzten Buchungen mit Police und "
        "Ausschreibung\n"
        "• `/budget 4711` – das Konto eines Vermittlers (Backoffice)",
    ),
    "/verlauf": (
        "Nachrichtenverlauf einer Ausschreibung",
        "• `/verlauf AS-2026-0001` – alle Nachrichten mit dem Backoffice, auch nach Abschluss",
    ),
}


def help_message(command: str) -> dict[str, Any]:
    title, body = HELP[command]
    blocks = [
        header(f"{command} – Hilfe", block_id=HEADER_BLOCK),
        section(f"*{title}*\n{body}"),
        context("Fragen zu Rabatten: `/rabatt hilfe`"),
    ]
    return message(f"{command}: {title}", blocks)
