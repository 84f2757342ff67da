"""Decimal parsing, rounding and German formatting for premiums and percentages.

Floats never appear: a premium of 0.1 + 0.2 must not become 0.30000000000000004 €.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from enum import StrEnum

CENT = Decimal("0.01")
HUNDRED = Decimal(100)
ZERO = Decimal(0)


class Unit(StrEnum):
    NONE = ""
    PERCENT = "%"
    EURO = "€"


class NumberFormatError(ValueError):
    """Raised for text that is not a number; the query parser adds the field name."""


_UNIT_SUFFIX = re.compile(r"\s*(%|€|eur|euro)\s*$", re.IGNORECASE)
_UNIT_PREFIX = re.compile(r"^\s*(€|eur)\s*", re.IGNORECASE)
# Slack and word processors turn spaces and minus signs into their typographic cousins.
_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
_BODY = re.compile(r"[+-]?\d[\d.,]*")
_GROUPED = {sep: re.compile(r"\d{1,3}(?:" + re.escape(sep) + r"\d{3})+") for sep in ".,"}


def parse_number(raw: str) -> tuple[Decimal, Unit]:
    """Parse `1.234,56`, `1234.56`, `40%`, `1.500 €`, `-100` into a Decimal and its unit.

    German conventions win where a text is ambiguous: a single comma is the decimal
    separator (`1,5` is one and a half) and a single dot followed by exactly three digits
    groups thousands (`1.500` is fifteen hundred), because the brokers write German.
    """
    if raw.isascii() and raw.isdigit():
        # Most values are plain whole numbers (renta=40, monate=24); skip the general path.
        return Decimal(raw), Unit.NONE
    text = raw.strip().replace("\u2212", "-")
    unit = Unit.NONE
    suffix = _UNIT_SUFFIX.search(text)
    if suffix:
        unit = Unit.PERCENT if suffix.group(1) == "%" else Unit.EURO
        text = text[: suffix.start()]
    prefix = _UNIT_PREFIX.match(text)
    if prefix:
        if unit is Unit.PERCENT:
            raise NumberFormatError(raw)
        unit = Unit.EURO
        text = text[prefix.end() :]
    text = _SPACES.sub("", text)
    if not _BODY.fullmatch(text):
        raise NumberFormatError(raw)
    sign = ""
    if text[0] in "+-":
        sign, text = ("-" if text[0] == "-" else ""), text[1:]
    return Decimal(sign + _normalise_separators(text, raw)), unit


def _normalise_separators(text: str, raw: str) -> str:
    dots, commas = text.count("."), text.count(",")
    if dots and commas:
        decimal_sep = "." if text.rfind(".") > text.rfind(",") else ","
        group_sep = "," if decimal_sep == "." else "."
        whole, _, fraction = text.rpartition(decimal_sep)
        if not fraction.isdigit() or not _is_grouped(whole, group_sep):
            raise NumberFormatError(raw)
        return whole.replace(group_sep, "") + "." + fraction
    if commas == 1:
        whole, _, fraction = text.partition(",")
        if not (whole.isdigit() and fraction.isdigit()):
            raise NumberFormatError(raw)
        return whole + "." + fraction
    if commas > 1:
        if not _is_grouped(text, ","):
            raise NumberFormatError(raw)
        return text.replace(",", "")
    if dots > 1 or _looks_like_thousands(text):
        if not _is_grouped(text, "."):
            raise NumberFormatError(raw)
        return text.replace(".", "")
    if dots == 1:
        whole, _, fraction = text.partition(".")
        if not (whole.isdigit() and fraction.isdigit()):
            raise NumberFormatError(raw)
    return text


def _looks_like_thousands(text: str) -> bool:
    whole, dot, fraction = text.partition(".")
    return bool(dot) and len(fraction) == 3 and 1 <= len(whole) <= 3 and whole != "0"


def _is_grouped(text: str, sep: str) -> bool:
    if sep not in text:
        return text.isdigit()
    return _GROUPED[sep].fullmatch(text) is not None


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
    return f"{value.quantize(CENT, rounding=ROUND_HALF_UP):f}"


# Swaps both separators in one pass: 1,234.50 → 1.234,50.
_TO_GERMAN = str.maketrans(",.", ".,")


def _german_grouping(value: Decimal, decimals: int) -> str:
    return f"{value:,.{decimals}f}".translate(_TO_GERMAN)


def format_euro(value: Decimal) -> str:
    return f"{_german_grouping(value, 2)} €"


def format_percent(value: Decimal) -> str:
    # Whole caps read better as "40 %", computed limits keep their cents ("25,92 %").
    decimals = 0 if value == value.to_integral_value() else 2
    return f"{_german_grouping(value, decimals)} %"
