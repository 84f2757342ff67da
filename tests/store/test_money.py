"""The store writes euros exactly as every other layer does (pricing.formats)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from pricing.formats import format_cents
from store.money import format_eur, from_cents, to_cents


@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_it_writes_cents_as_pricing_formats_does(cents: int) -> None:
    assert format_eur(cents) == format_cents(cents)


@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_it_keeps_cents_through_decimal_and_back(cents: int) -> None:
    assert to_cents(from_cents(cents)) == cents
    assert from_cents(cents) == Decimal(cents) / 100
