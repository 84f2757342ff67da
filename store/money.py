"""Euro amounts: Decimal in the domain, integer cents in the database, and their German text
in the messages the store words itself (ledger notes, platform answers, P3's refusal).

Every other layer shows money through ``pricing.formats``; the store imports none of our
packages, so it writes the same text through Babel's own de_DE pattern, and
``tests/store/test_money.py`` holds the two equal.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from babel import Locale
from babel.numbers import parse_pattern

CENT = Decimal("0.01")
# format_currency parses the locale and its pattern on every call; parse them once.
_GERMAN = Locale.parse("de_DE")
_EUR_PATTERN = parse_pattern(_GERMAN.currency_formats["standard"])


def to_cents(amount: Decimal) -> int:
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def format_eur(cents: int) -> str:
    """German format, e.g. ``1.234,50 €`` (with a no-break space before the sign)."""
    text: str = _EUR_PATTERN.apply(from_cents(cents), _GERMAN, currency="EUR")
    return text
