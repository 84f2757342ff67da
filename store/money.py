"""Euro amounts: Decimal in the domain, integer cents in the database, and their German text
in the messages the store words itself (ledger notes, platform answers, P3's refusal), and
the one reader of the German amounts in machine input (FIV files, platform events).

Every other layer shows money through ``pricing.formats``; the store imports none of our
packages, so it writes the same text through Babel's own de_DE pattern, and
``tests/store/test_money.py`` holds the two equal.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from babel import Locale
from babel.numbers import parse_pattern

CENT = Decimal("0.01")
# format_currency parses the locale and its pattern on every call; parse them once.
_GERMAN = Locale.parse("de_DE")
_EUR_PATTERN = parse_pattern(_GERMAN.currency_formats["standard"])
# German notation as the FIV export and the platform write it: optional thousands dots in
# groups of three, an optional comma with one or two cent digits. Strict on purpose: an
# export that drifts (1,234.56) is refused, not guessed. What people type is read by the
# tolerant pricing.formats.parse_number, which the store may not import.
_GERMAN_AMOUNT = re.compile(r"-?(\d{1,3}(\.\d{3})+|\d+)(,\d{1,2})?")


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def format_eur(cents: int) -> str:
    """German format, e.g. ``1.234,50 €`` (with a no-break space before the sign)."""
    text: str = _EUR_PATTERN.apply(from_cents(cents), _GERMAN, currency="EUR")
    return text


def parse_german_amount(text: str) -> Decimal | None:
    """``1.234,56`` → ``Decimal("1234.56")``, exactly; None for any other notation."""
    value = text.strip()
    if not _GERMAN_AMOUNT.fullmatch(value):
        return None
    return Decimal(value.replace(".", "").replace(",", "."))
