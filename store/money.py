"""Euro amounts: Decimal in the domain, integer cents in the database."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import format_currency

CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def format_eur(cents: int) -> str:
    """German format, e.g. ``1.234,50 €`` (with a no-break space before the sign)."""
    return format_currency(from_cents(cents), "EUR", locale="de_DE")


def format_eur_text(cents: int) -> str:
    """``1.234,50 €`` with a plain space: the spelling of the ``/rabatt`` answers (P3), so a
    refusal from the ledger reads exactly like the discount question's."""
    english = f"{from_cents(cents):,.2f}"
    german = english.replace(",", "\u0000").replace(".", ",").replace("\u0000", ".")
    return f"{german} €"
