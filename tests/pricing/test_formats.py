"""German money, percentages and dates: written as Babel writes them, read back as written."""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

import pytest
from babel.dates import format_date as babel_date
from babel.numbers import format_currency, format_decimal
from babel.numbers import format_percent as babel_percent
from hypothesis import given
from hypothesis import strategies as st

from pricing.formats import (
    DOUBLE_QUOTES,
    SINGLE_QUOTES,
    FormatError,
    NoSuchDay,
    NumberFormatError,
    UnclosedQuote,
    Unit,
    format_cents,
    format_date,
    format_datetime,
    format_euro,
    format_percent,
    normalise_word,
    parse_date,
    parse_number,
    split_words,
)

NBSP = "\xa0"
CENT = Decimal("0.01")


def amounts(limit: str = "999999999.99") -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=-Decimal(limit), max_value=Decimal(limit), places=2)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("1234.5", "1.234,50"),
        ("1500", "1.500,00"),
        ("250", "250,00"),
        ("999.99", "999,99"),
        ("-250", "-250,00"),
        ("-1234.5", "-1.234,50"),
        ("0", "0,00"),
        ("1000000", "1.000.000,00"),
        ("12.5", "12,50"),
        # Half up, as on the insurer's invoices (Babel alone would round half to even).
        ("0.005", "0,01"),
        ("2.345", "2,35"),
    ],
)
def test_it_writes_euros_the_german_way(value: str, shown: str) -> None:
    assert format_euro(Decimal(value)) == f"{shown}{NBSP}€"


def test_it_writes_cents_from_the_database() -> None:
    assert format_cents(123450) == f"1.234,50{NBSP}€"
    assert format_cents(-10000) == f"-100,00{NBSP}€"
    assert format_cents(0) == f"0,00{NBSP}€"
    assert format_cents(7) == f"0,07{NBSP}€"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("40", "40"),
        ("40.00", "40"),
        ("25.92", "25,92"),
        ("12.5", "12,50"),
        ("0", "0"),
        ("1500", "1.500"),
    ],
)
def test_it_writes_percentages_whole_or_with_hundredths(value: str, shown: str) -> None:
    assert format_percent(Decimal(value)) == f"{shown}{NBSP}%"


def test_it_writes_dates_and_times_day_first() -> None:
    assert format_date(date(2026, 12, 31)) == "31.12.2026"
    assert format_date(date(2027, 2, 1)) == "01.02.2027"
    moment = datetime(2026, 9, 2, 14, 5, 9)
    assert format_datetime(moment) == "02.09.2026 14:05"
    assert format_datetime(moment, seconds=True) == "02.09.2026 14:05:09"


@given(amounts())
def test_it_writes_exactly_what_babel_writes(amount: Decimal) -> None:
    assert format_euro(amount) == format_currency(amount, "EUR", locale="de_DE")


@given(st.decimals(min_value=-(10**9), max_value=10**9, places=4))
def test_it_rounds_half_up_then_writes_what_babel_writes(amount: Decimal) -> None:
    rounded = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    assert format_euro(amount) == format_currency(rounded, "EUR", locale="de_DE")


@given(st.decimals(min_value=-(10**6), max_value=10**6, places=2))
def test_it_writes_percentages_as_babel_does(value: Decimal) -> None:
    if value == value.to_integral_value():
        expected = babel_percent(value / 100, locale="de_DE")
    else:
        expected = format_decimal(value, "#,##0.00", locale="de_DE") + NBSP + "%"
    assert format_percent(value) == expected


@given(st.dates())
def test_it_writes_dates_as_babel_does(day: date) -> None:
    assert format_date(day) == babel_date(day, "dd.MM.yyyy", locale="de_DE")


@given(st.datetimes(min_value=datetime(1900, 1, 1)))
def test_it_writes_times_as_strftime_does(moment: datetime) -> None:
    assert format_datetime(moment) == moment.strftime("%d.%m.%Y %H:%M")
    assert format_datetime(moment, seconds=True) == moment.strftime("%d.%m.%Y %H:%M:%S")


@given(amounts())
def test_it_reads_back_every_amount_it_writes(amount: Decimal) -> None:
    assert parse_number(format_euro(amount)) == (amount, Unit.EURO)


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_it_reads_back_every_cent_amount_it_writes(cents: int) -> None:
    assert parse_number(format_cents(cents)) == (Decimal(cents) / 100, Unit.EURO)


@given(st.decimals(min_value=-(10**6), max_value=10**6, places=2))
def test_it_reads_back_every_percentage_it_writes(value: Decimal) -> None:
    assert parse_number(format_percent(value)) == (value, Unit.PERCENT)


@given(st.dates(min_value=date(1000, 1, 1)))
def test_it_reads_back_every_date_it_writes(day: date) -> None:
    assert parse_date(format_date(day)) == day
    assert parse_date(day.isoformat()) == day


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("1.234,56", "1234.56", Unit.NONE),
        ("1234.56", "1234.56", Unit.NONE),
        ("1.500 €", "1500", Unit.EURO),
        (f"1.500{NBSP}€", "1500", Unit.EURO),
        ("€ 500", "500", Unit.EURO),
        ("250 EUR", "250", Unit.EURO),
        ("40 %", "40", Unit.PERCENT),
        ("−100", "-100", Unit.NONE),
        ("1\u202f000,50", "1000.50", Unit.NONE),
    ],
)
def test_it_reads_what_users_type(text: str, value: str, unit: Unit) -> None:
    assert parse_number(text) == (Decimal(value), unit)


@pytest.mark.parametrize("text", ["", "zwölf", "1,2,3", "12.34.56", "% 40", "1.2,3.4"])
def test_it_refuses_text_that_is_no_number(text: str) -> None:
    with pytest.raises(NumberFormatError):
        parse_number(text)


def test_it_tells_an_impossible_day_from_text_that_is_no_date() -> None:
    assert parse_date(" 1.2.2027 ") == date(2027, 2, 1)
    with pytest.raises(NoSuchDay):
        parse_date("31.02.2026")
    with pytest.raises(FormatError) as caught:
        parse_date("morgen")
    assert not isinstance(caught.value, NoSuchDay)


def test_it_spells_out_umlauts_in_keys() -> None:
    assert normalise_word(" Vorschäden ") == "vorschaeden"
    assert normalise_word("GESCHÄFTSART") == "geschaeftsart"
    assert normalise_word("Straße") == "strasse"


def test_it_groups_quoted_words_and_keeps_apostrophes_unless_asked() -> None:
    assert split_words('kunde="Müller GmbH" sb=1.000') == ["kunde=Müller GmbH", "sb=1.000"]
    assert split_words("kunde=„Bäckerei Korn“ x") == ["kunde=Bäckerei Korn", "x"]
    assert split_words('grund=""') == ["grund="]
    assert split_words('kunde="Hans\' Backstube"') == ["kunde=Hans' Backstube"]
    assert split_words("neu='1.500 €' x", DOUBLE_QUOTES + SINGLE_QUOTES) == ["neu=1.500 €", "x"]
    with pytest.raises(UnclosedQuote):
        split_words('kunde="Müller GmbH')
    with pytest.raises(UnclosedQuote):
        split_words("neu='1.500", DOUBLE_QUOTES + SINGLE_QUOTES)


plain_words = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs", "Zs", "Zl", "Zp", "Cc"), blacklist_characters=DOUBLE_QUOTES
    ),
    min_size=1,
)


@given(st.lists(plain_words | st.lists(plain_words, min_size=2).map(" ".join)))
def test_it_splits_quoted_words_back_as_they_were(words: list[str]) -> None:
    text = " ".join(f'"{word}"' if " " in word else word for word in words)
    assert split_words(text) == words
