"""The German query language: aliases, number formats and messages that help."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pricing import QueryError, answer_query, parse_query
from pricing.formats import NumberFormatError, Unit, parse_number
from pricing.requests import (
    Geschaeft,
    HilfeRequest,
    KombiRequest,
    KonzeptRequest,
    RisikobonusRequest,
    RiskClass,
    Sparte,
    SpezialistRequest,
    UmstellungRequest,
)

EXAMPLE = (
    "umstellung sparte=sach renta=40 alt=1000 neu=1500 risikobonus=10 tarifjahr=2015 "
    "monate=24 geschaeft=ersatz segment=ja"
)


@pytest.mark.parametrize(
    ("text", "value", "unit"),
    [
        ("1.234,56", "1234.56", Unit.NONE),
        ("1234.56", "1234.56", Unit.NONE),
        ("1234,56", "1234.56", Unit.NONE),
        ("40%", "40", Unit.PERCENT),
        ("40 %", "40", Unit.PERCENT),
        ("1.500 €", "1500", Unit.EURO),
        ("1.500", "1500", Unit.NONE),
        ("1.500.000", "1500000", Unit.NONE),
        ("1,234,567.89", "1234567.89", Unit.NONE),
        ("0.125", "0.125", Unit.NONE),
        ("12,5", "12.5", Unit.NONE),
        ("250 EUR", "250", Unit.EURO),
        ("−100", "-100", Unit.NONE),
    ],
)
def test_it_reads_german_and_english_number_formats(text: str, value: str, unit: Unit) -> None:
    assert parse_number(text) == (Decimal(value), unit)


@pytest.mark.parametrize("text", ["", "abc", "1.23.4", "1,2,3", "12 %%", "1.2,3.4", "--1"])
def test_it_rejects_text_that_is_no_number(text: str) -> None:
    with pytest.raises(NumberFormatError):
        parse_number(text)


def test_it_parses_the_umstellung_example_into_one_request() -> None:
    assert parse_query(EXAMPLE) == UmstellungRequest(
        sparte=Sparte.SACH,
        renta=Decimal(40),
        old_premium=Decimal(1000),
        new_premium=Decimal(1500),
        risikobonus=Decimal(10),
        tarifjahr=2015,
        monate=24,
        geschaeft=Geschaeft.ERSATZ,
        segment=True,
    )


def test_it_accepts_any_order_aliases_umlauts_and_units() -> None:
    request = parse_query(
        "Umstellung monate=24 tarifjahr=2015 Geschäft=Ersatzgeschäft neu='1.500,00 €' "
        "alt=1.000 € renta=40% rb=10 % sparte=Haftpflicht"
    )
    assert isinstance(request, UmstellungRequest)
    assert request.sparte is Sparte.HAFT
    assert request.old_premium == Decimal(1000)
    assert request.new_premium == Decimal(1500)
    assert request.risikobonus == Decimal(10)


def test_it_accepts_slack_smart_quotes_and_pasted_backticks() -> None:
    request = parse_query("`kombi sach haft rs beitrag=“1.500 €”`")
    assert isinstance(request, KombiRequest)
    assert request.beitrag == Decimal(1500)


def test_it_defaults_risikobonus_to_0_and_geschaeft_to_ersatz() -> None:
    request = parse_query(
        "umstellung sparte=rs renta=40 alt=1000 neu=1500 tarifjahr=2015 monate=24"
    )
    assert isinstance(request, UmstellungRequest)
    assert request.risikobonus == 0
    assert request.geschaeft is Geschaeft.ERSATZ


def test_it_parses_the_other_forms() -> None:
    assert parse_query("risikobonus klasse=durchschnitt wunsch=15") == RisikobonusRequest(
        klasse=RiskClass.DURCHSCHNITT, wunsch=Decimal(15)
    )
    assert parse_query("konzept betrag=250 saldo=400 kredit=0 geschaeft=neu") == KonzeptRequest(
        betrag=Decimal(250), geschaeft=Geschaeft.NEU, saldo=Decimal(400), kredit=Decimal(0)
    )
    assert parse_query("spezialist inhalt haft rs") == SpezialistRequest(
        inhalt=True, sparten=frozenset({Sparte.HAFT, Sparte.RS})
    )
    assert parse_query("hilfe") == HilfeRequest()
    assert parse_query("   ") == HilfeRequest()


def test_it_names_a_missing_field_and_shows_an_example() -> None:
    with pytest.raises(QueryError) as caught:
        parse_query("umstellung sparte=sach renta=40 alt=1000 neu=1500 tarifjahr=2015")
    assert caught.value.word == "monate"
    assert "Es fehlt das Feld „monate“" in str(caught.value)
    assert f"Beispiel: `{EXAMPLE}`" in str(caught.value)


def test_it_names_an_unknown_word_and_suggests_the_close_one() -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(EXAMPLE + " rentta=3")
    assert caught.value.word == "rentta"
    assert "Unbekanntes Wort „rentta“" in str(caught.value)
    assert "Meinten Sie „renta“?" in str(caught.value)
    assert "Beispiel: `umstellung" in str(caught.value)


def test_it_names_an_unknown_command() -> None:
    with pytest.raises(QueryError) as caught:
        parse_query("rabat betrag=3")
    assert "Unbekannte Anfrage „rabat“" in str(caught.value)
    assert "Beispiel:" in str(caught.value)


def test_it_points_a_bare_sparte_to_sparte_equals() -> None:
    with pytest.raises(QueryError, match="Meinten Sie „sparte=sach“"):
        parse_query("umstellung sach renta=40 alt=1000 neu=1500 tarifjahr=2015 monate=24")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (EXAMPLE.replace("renta=40", "renta=vierzig"), "„vierzig“ ist keine Zahl (Feld „renta“)"),
        (EXAMPLE.replace("alt=1000", "alt=10%"), "Feld „alt“ erwartet keinen Wert in %"),
        (EXAMPLE.replace("alt=1000", "alt=0"), "Feld „alt“ muss größer als 0 sein"),
        (EXAMPLE.replace("alt=1000", "alt=10,001"), "mehr als zwei Nachkommastellen"),
        (EXAMPLE.replace("risikobonus=10", "risikobonus=25"), "„risikobonus“ muss zwischen"),
        (EXAMPLE.replace("monate=24", "monate=6,5"), "„monate“ muss eine ganze Zahl"),
        (EXAMPLE.replace("sparte=sach", "sparte=kfz"), "Unbekannter Wert „kfz“ für „sparte“"),
        (EXAMPLE.replace("geschaeft=ersatz", "geschaeft=alt"), "Unbekannter Wert „alt“"),
        (EXAMPLE + " renta=50", "„renta“ ist doppelt"),
        (EXAMPLE + " monate", "Für „monate“ fehlt der Wert"),
        (EXAMPLE + " klasse=", "Für „klasse“ fehlt der Wert"),
        ("konzept betrag=10 geschaeft=neu kredit=-5", "„kredit“ darf nicht negativ"),
        ("spezialist sach haft", "heißt die Sach-Inhaltsversicherung „inhalt“"),
        ("kombi beitrag=100", "Nennen Sie die Branchen"),
        ("kombi sach haft wegfall=rs", "„wegfall=rs“: diese Branche ist"),
        ("kombi sach haft jahr=2", "„jahr“ gehört zu „wegfall“"),
    ],
)
def test_it_explains_what_is_wrong_with_a_value(text: str, fragment: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    assert fragment in str(caught.value)
    assert "Beispiel: `" in str(caught.value)


def test_it_raises_a_value_error_subclass() -> None:
    # Callers that only know ValueError still catch a bad query.
    with pytest.raises(ValueError):
        answer_query("quatsch")


def test_it_lists_every_form_with_an_example_in_hilfe() -> None:
    answer = answer_query("hilfe")
    text = answer.to_text()
    for name in ("umstellung", "risikobonus", "konzept", "spezialist", "kombi"):
        assert f"`{name} " in text
    # A help whose examples do not parse would teach the wrong syntax.
    forms = answer.to_dict()["forms"]
    assert isinstance(forms, list)
    assert len(forms) == 5
    for form in forms:
        assert isinstance(form, dict)
        parse_query(str(form["example"]))
