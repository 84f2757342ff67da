"""Decimal arithmetic for premiums and percentages: rounding to cents and discounts.

Floats never appear: a premium of 0.1 + 0.2 must not become 0.30000000000000004 €. How
amounts are shown and read lives in ``pricing.formats``.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal(0)


def round_cents(value: Decimal) -> Decimal:
    """Premiums are rounded half-up to the cent, as on the insurer's invoices."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def ceil_cents(value: Decimal) -> Decimal:
    """Round a lower bound up: a floor of 1100.054 € must not be met by 1100.05 €."""
    return value.quantize(CENT, rounding=ROUND_CEILING)


def floor_percent(value: Decimal) -> Decimal:
    """Round a maximum percentage down so the premium it yields never crosses its floor."""
    return value.quantize(CENT, rounding=ROUND_FLOOR)


def apply_percent(premium: Decimal, percent: Decimal) -> Decimal:
    """The premium after a discount of `percent`, rounded half-up to cents."""
    return round_cents(premium * (HUNDRED - percent) / HUNDRED)


def as_json(value: Decimal) -> str:
    """Two decimals with a dot: stable for machines, free of float artefacts."""
    # str of a Decimal quantized to cents never takes the exponent form, and is cheaper.
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))
