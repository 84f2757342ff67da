"""The store writes euros exactly as every other layer does (pricing.formats) and reads the
German amounts of files and platform events strictly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricing.formats import format_cents
from store.money import format_eur, from_cents, parse_german_amount, to_cents


@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_it_writes_cents_as_pricing_formats_does(cents: int) -> None:
    assert format_eur(cents) == format_cents(cents)


@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_it_keeps_cents_through_decimal_and_back(cents: int) -> None:
    assert to_cents(from_cents(cents)) == cents
    assert from_cents(cents) == Decimal(cents) / 100


@pytest.mark.parametrize(
    ("text", "amount"),
    [("1.234,56", "1234.56"), ("1234,5", "1234.5"), ("-12", "-12"), (" 0,01 ", "0.01")],
)
def test_it_reads_german_amounts_exactly(text: str, amount: str) -> None:
    assert parse_german_amount(text) == Decimal(amount)


@pytest.mark.parametrize("text", ["1,234.56", "12.34", "1.23,45", "12,345", "250 €", "", "1e3"])
def test_it_reads_no_other_notation(text: str) -> None:
    assert parse_german_amount(text) is None


@given(st.integers(min_value=-(10**13), max_value=10**13))
def test_it_reads_back_every_amount_it_writes(cents: int) -> None:
    written = format_eur(cents).removesuffix("\xa0€")
    assert parse_german_amount(written) == from_cents(cents)
