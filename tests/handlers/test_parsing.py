"""What brokers and the backoffice type, read the way they mean it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from handlers.parsing import (
    InputError,
    parse_amount,
    parse_arguments,
    parse_date,
    parse_reference,
    split_words,
)
from handlers.requests import NewOffer, parse_offer_text, parse_start_text


def test_it_groups_words_in_straight_and_typographic_quotes() -> None:
    assert split_words('kunde="Müller GmbH" sb=1.000') == ["kunde=Müller GmbH", "sb=1.000"]
    assert split_words("kunde=„Bäckerei Korn“ x") == ["kunde=Bäckerei Korn", "x"]
    assert split_words("beschreibung=“Café mit Backstube” y") == [
        "beschreibung=Café mit Backstube",
        "y",
    ]


def test_it_keeps_apostrophes_in_names() -> None:
    assert split_words("kunde=Hans'_Backstube") == ["kunde=Hans'_Backstube"]
    assert split_words('kunde="Hans\' Backstube"') == ["kunde=Hans' Backstube"]


def test_it_keeps_an_empty_quoted_value_as_a_word() -> None:
    assert split_words('grund=""') == ["grund="]


def test_it_refuses_an_unclosed_quote() -> None:
    with pytest.raises(InputError, match="Anführungszeichen"):
        split_words('kunde="Müller GmbH')


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.234,50", Decimal("1234.50")),
        ("1234.50 €", Decimal("1234.50")),
        ("1234,5", Decimal("1234.5")),
        ("1.000", Decimal("1000")),
        ("€ 500", Decimal("500")),
        ("0", Decimal("0")),
    ],
)
def test_it_reads_amounts_as_germans_write_them(raw: str, expected: Decimal) -> None:
    assert parse_amount(raw, field="beitrag") == expected


@pytest.mark.parametrize("raw", ["zwölf", "1,2,3", "12.34.56", "40 %", "-5"])
def test_it_refuses_what_is_no_amount(raw: str) -> None:
    with pytest.raises(InputError, match="beitrag"):
        parse_amount(raw, field="beitrag")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("31.12.2026", date(2026, 12, 31)),
        ("2026-12-31", date(2026, 12, 31)),
        ("1.2.2027", date(2027, 2, 1)),
    ],
)
def test_it_reads_german_and_iso_dates(raw: str, expected: date) -> None:
    assert parse_date(raw, field="gueltig-bis") == expected


@pytest.mark.parametrize(
    ("raw", "message"), [("31.02.2026", "gibt es nicht"), ("morgen", "kein Datum")]
)
def test_it_refuses_impossible_or_unreadable_dates(raw: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_date(raw, field="gueltig-bis")


def test_it_reads_references_in_any_case_and_with_typographic_dashes() -> None:
    assert parse_reference("as-2026-0001") == "AS-2026-0001"
    assert parse_reference("AS–2026–0007") == "AS-2026-0007"


@pytest.mark.parametrize("raw", ["2026-0001", "AS-26-1", "<@U0ANNA>"])
def test_it_refuses_malformed_references(raw: str) -> None:
    with pytest.raises(InputError, match="keine Ausschreibungsnummer"):
        parse_reference(raw)


def test_it_names_unknown_and_duplicate_fields() -> None:
    allowed = {"kunde": "kunde", "sb": "sb"}
    with pytest.raises(InputError, match=r"Unbekanntes Feld „farbe“\. Erlaubt sind: kunde, sb\."):
        parse_arguments("farbe=rot", allowed, example="x")
    with pytest.raises(InputError, match="doppelt"):
        parse_arguments("sb=1 sb=2", allowed, example="x")
    with pytest.raises(InputError, match="„rot“ verstehe ich nicht"):
        parse_arguments("rot", allowed, example="x")


def test_it_parses_a_whole_start_command_with_umlaut_keys() -> None:
    request = parse_start_text(
        "sparte=haft kunde=„Bäckerei Korn GmbH“ SB=1.500,00 Vorschäden=keine "
        'beschreibung="Backstube mit Café" grund="Kunde wünscht Vergleich"'
    )
    assert request.product == "haftpflicht"
    assert request.customer_name == "Bäckerei Korn GmbH"
    assert request.risk.deductible == Decimal("1500.00")
    assert request.risk.prior_claims == "keine"
    assert request.risk.description == "Backstube mit Café"
    assert request.reason == "Kunde wünscht Vergleich"


def test_it_lists_every_missing_start_field() -> None:
    with pytest.raises(InputError, match=r"Es fehlt: vorschaeden=…, beschreibung=…"):
        parse_start_text("sparte=sach kunde=Korn")


def test_it_names_the_known_products_for_an_unknown_one() -> None:
    with pytest.raises(InputError, match=r"Sparte „kfz“ kenne ich nicht\. Möglich sind: sach"):
        parse_start_text("sparte=kfz kunde=Korn vorschaeden=keine beschreibung=x")


def test_it_parses_an_offer_or_just_its_reference() -> None:
    assert parse_offer_text("as-2026-0001") == "AS-2026-0001"
    assert parse_offer_text(
        'AS-2026-0001 versicherer="Allianz Versicherung" beitrag=1.234,50 gueltig-bis=31.12.2026'
    ) == NewOffer(
        reference="AS-2026-0001",
        insurer="Allianz Versicherung",
        premium=Decimal("1234.50"),
        valid_until=date(2026, 12, 31),
    )


def test_it_refuses_an_offer_without_reference_or_with_missing_fields() -> None:
    with pytest.raises(InputError, match="Ausschreibungsnummer angeben"):
        parse_offer_text("versicherer=Allianz")
    with pytest.raises(InputError, match="Es fehlt: gueltig-bis=…"):
        parse_offer_text("AS-2026-0001 versicherer=Allianz beitrag=100")
