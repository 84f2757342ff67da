"""Rule T9: after „keine Angebote“ the broker may start again with an adjusted risk."""

from __future__ import annotations

from typing import Any

from handlers.blocks.base import actions, button, message, section

RESTART_ACTION = "tender_restart"
RESTART_BLOCK = "tender_restart"
RESTART_LABEL = "Neue Ausschreibung mit angepassten Daten"


def no_offers_notice(reference: str) -> dict[str, Any]:
    """The broker's DM: no insurer could offer, and a button into the prefilled dialog."""
    text = (
        f"Für Ihre Ausschreibung *{reference}* konnte leider kein Versicherer ein Angebot "
        "abgeben. Sie können eine neue Ausschreibung mit angepasstem Risiko starten: das "
        "Formular ist mit den bisherigen Angaben vorausgefüllt."
    )
    return message(
        text,
        [
            section(text),
            actions(
                RESTART_BLOCK,
                button(RESTART_LABEL, RESTART_ACTION, reference, style="primary"),
            ),
        ],
    )
