"""Rules P1, P2, P3 and P5 through the public entry point `answer_query`."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import pricing
from pricing import KombiRateTable, KombiTableError, QueryError, answer_query

EXAMPLE_TABLE = (Path(pricing.__file__).parent / "kombi_rates.example.toml").read_text(
    encoding="utf-8"
)
RATES = KombiRateTable(rates={1: Decimal(0), 2: Decimal("7.5"), 3: Decimal(12)})


# --- P2 Risikobonus -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("klasse", "maximum"), [("positiv", "20.00"), ("durchschnitt", "10.00"), ("bestimmt", "0.00")]
)
def test_it_knows_the_maximum_risikobonus_per_class(klasse: str, maximum: str) -> None:
    # P2: positive 20 %, average 10 %, certain risks none.
    data = answer_query(f"risikobonus klasse={klasse}").to_dict()
    assert data["max_percent"] == maximum
    assert data["allowed"] is None


def test_it_refuses_a_risikobonus_above_the_maximum_with_the_reason() -> None:
    # P2: average risk, 15 % wished, 10 % allowed.
    answer = answer_query("risikobonus klasse=durchschnitt wunsch=15")
    assert answer.headline == "Risikobonus 15\xa0%: nicht möglich (höchstens 10\xa0%)"
    assert answer.to_dict()["allowed"] is False
    assert answer.to_dict()["granted"] is None
    assert answer.reasons[-1].rule == "P2"
    assert "übersteigen das Maximum von 10\xa0%" in answer.reasons[-1].text


def test_it_grants_a_risikobonus_exactly_at_the_maximum() -> None:
    # P2 boundary: "bis zu 20 %" includes 20.
    data = answer_query("risikobonus klasse=positiv wunsch=20").to_dict()
    assert data["allowed"] is True
    assert data["granted"] == "20.00"


def test_it_explains_that_certain_risks_are_cross_subsidised() -> None:
    # P2: "bereits quersubventioniert".
    answer = answer_query("risikobonus klasse=bestimmt wunsch=1")
    assert answer.to_dict()["allowed"] is False
    assert "quersubventioniert" in answer.reasons[0].text


def test_it_advises_to_grant_the_risikobonus_only_on_final_tariff_data() -> None:
    # P2 advice.
    assert any("nach finaler Eingabe" in note for note in answer_query("rb klasse=pos").notes)


# --- P3 Konzeptrabatt ----------------------------------------------------------------------


def test_it_covers_a_konzeptrabatt_from_the_balance() -> None:
    # P3: 250 € from a balance of 400 €.
    data = answer_query("konzept betrag=250 saldo=400 kredit=0 geschaeft=neu").to_dict()
    assert data["covered"] is True
    assert data["saldo_danach"] == "150.00"


def test_it_covers_a_konzeptrabatt_up_to_the_credit_limit_exactly() -> None:
    # P3 boundary: balance 100 € + credit 150 € covers exactly 250 €; B3 notes the credit.
    answer = answer_query("konzept betrag=250 saldo=100 kredit=150 geschaeft=neu")
    assert answer.to_dict()["covered"] is True
    assert answer.to_dict()["saldo_danach"] == "-150.00"
    assert [reason.rule for reason in answer.reasons] == ["P3", "B3"]


def test_it_sends_an_uncovered_konzeptrabatt_to_the_geschaeftsstelle() -> None:
    # P3: one cent more than balance + credit cannot be policed.
    answer = answer_query("konzept betrag=250,01 saldo=100 kredit=150 geschaeft=neu")
    assert answer.to_dict()["covered"] is False
    assert "nicht policiert" in answer.reasons[0].text
    assert "Geschäftsstelle" in answer.headline


def test_it_refuses_a_konzeptrabatt_in_replacement_business() -> None:
    # P3: "findet keine Anwendung im Ersatzgeschäft", however large the balance.
    answer = answer_query("konzept betrag=10 saldo=10000 geschaeft=ersatz")
    assert answer.to_dict()["eligible"] is False
    assert answer.to_dict()["covered"] is False
    assert answer.reasons[0].rule == "P3"


def test_it_prefers_the_account_passed_by_the_caller_over_the_query() -> None:
    # P3: the Slack command passes the broker's real account; saldo= in the text is ignored.
    answer = answer_query(
        "konzept betrag=250 saldo=10000 kredit=10000 geschaeft=neu",
        konzept_balance=Decimal(100),
        konzept_credit=Decimal(0),
    )
    assert answer.to_dict()["covered"] is False
    assert answer.to_dict()["saldo"] == "100.00"
    assert any("durch die Kontodaten ersetzt" in note for note in answer.notes)


def test_it_needs_no_saldo_in_the_query_when_the_caller_passes_one() -> None:
    answer = answer_query("konzept betrag=50 geschaeft=neu", konzept_balance=Decimal(60))
    assert answer.to_dict()["covered"] is True
    # An unknown credit limit is never assumed: it counts as 0.
    assert answer.to_dict()["kredit"] == "0.00"
    assert not any("ersetzt" in note for note in answer.notes)


def test_it_asks_for_saldo_when_nobody_gives_one() -> None:
    with pytest.raises(QueryError, match="Es fehlt das Feld „saldo“"):
        answer_query("konzept betrag=50 geschaeft=neu")


# --- P5 Spezialistennachlass ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "percent"),
    [
        ("spezialist inhalt haft rs", "10.00"),
        ("spezialist inhalt haft", "5.00"),
        ("spezialist inhalt rechtsschutz", "5.00"),
        ("spezialist inhalt", "0.00"),
        ("spezialist haft rs", "0.00"),
    ],
)
def test_it_grants_5_or_10_percent_spezialistennachlass(query: str, percent: str) -> None:
    # P5: contents + liability or legal protection 5 %, contents + both 10 %.
    assert answer_query(query).to_dict()["percent"] == percent


def test_it_reminds_of_the_bfg_agreement_and_its_documentation() -> None:
    # P5
    answer = answer_query("spezialist inhalt haft rs")
    assert "BFG" in answer.to_text()
    assert "„Entscheidung BFG/MB/UW/FB“" in answer.to_text()


def test_it_adjusts_the_spezialistennachlass_when_a_line_drops_in_the_first_year() -> None:
    # P5: rs drops in year 1 → contents + Haft → 5 %.
    data = answer_query("spezialist inhalt haft rs wegfall=rs").to_dict()
    assert data["percent"] == "5.00"
    assert data["percent_before_drop"] == "10.00"
    assert data["adjusted"] is True


def test_it_keeps_the_spezialistennachlass_when_a_line_drops_later() -> None:
    # P5 adjusts only in the first insurance year.
    data = answer_query("spezialist inhalt haft rs wegfall=rs jahr=2").to_dict()
    assert data["percent"] == "10.00"
    assert data["adjusted"] is False


def test_it_ends_the_spezialistennachlass_when_the_contents_insurance_drops() -> None:
    # P5 exists only for the Sach-Inhalt Einzelbaustein.
    assert answer_query("spezialist inhalt haft wegfall=inhalt").to_dict()["percent"] == "0.00"


# --- P1 Kombirabatt ------------------------------------------------------------------------


def test_it_says_the_kombi_rates_are_not_configured_without_a_table() -> None:
    # P1: the sources give no rates.
    answer = answer_query("kombi sach haft rs")
    assert answer.to_dict()["configured"] is False
    assert answer.to_dict()["rate"] is None
    assert answer.to_dict()["count"] == 3
    assert "nicht konfiguriert" in answer.to_text()


def test_it_counts_lines_of_business_and_applies_the_rate() -> None:
    # P1: three lines → 12 % of 1.500 € = 180 €.
    data = answer_query("kombi sach haft rs beitrag=1.500 €", kombi_table=RATES).to_dict()
    assert data["count"] == 3
    assert data["rate"] == "12.00"
    assert data["nachlass"] == "180.00"
    assert data["beitrag_danach"] == "1320.00"


def test_it_counts_an_excluded_risk_as_a_zaehlstueck() -> None:
    # P1: rs excluded by underwriting still counts, but gets no Kombirabatt itself.
    data = answer_query("kombi sach haft zaehlstueck=rs", kombi_table=RATES).to_dict()
    assert data["count"] == 3
    assert data["rate"] == "12.00"
    assert data["discounted_sparten"] == ["sach", "haft"]


def test_it_adjusts_the_kombirabatt_when_a_line_drops_in_the_first_year() -> None:
    # P1: haft drops in year 1 → the remaining two lines get the rate for two.
    data = answer_query("kombi sach haft rs wegfall=haft", kombi_table=RATES).to_dict()
    assert data["count_before_drop"] == 3
    assert data["count"] == 2
    assert data["rate"] == "7.50"
    assert data["discounted_sparten"] == ["sach", "rs"]


def test_it_does_not_sanction_a_line_dropped_in_a_later_year() -> None:
    # P1: "In den Folgeversicherungsjahren wird nicht sanktioniert."
    data = answer_query("kombi sach haft rs wegfall=haft jahr=2", kombi_table=RATES).to_dict()
    assert data["count"] == 3
    assert data["rate"] == "12.00"


def test_it_points_the_contents_stand_alone_to_the_spezialistennachlass() -> None:
    # P1/P5: no Kombinachlass for the Sach-Inhalt Einzelbaustein.
    answer = answer_query("kombi inhalt haft", kombi_table=RATES)
    assert answer.to_dict()["rate"] is None
    assert answer.to_dict()["spezialist_percent"] == "5.00"
    assert [reason.rule for reason in answer.reasons][:2] == ["P1", "P5"]


def test_it_reads_the_shipped_example_table_and_marks_it_as_an_example() -> None:
    table = KombiRateTable.from_toml(EXAMPLE_TABLE)
    assert table.example
    answer = answer_query("kombi sach haft", kombi_table=table)
    assert answer.to_dict()["example_table"] is True
    assert "Beispieltabelle" in answer.to_text()


def test_it_keeps_decimal_rates_exact() -> None:
    table = KombiRateTable.from_toml('[saetze]\n1 = 0\n2 = 7.5\n3 = "12,5 %"\n')
    assert table.rates == {1: Decimal(0), 2: Decimal("7.5"), 3: Decimal("12.5")}
    assert table.example is False


@pytest.mark.parametrize(
    ("toml", "fragment"),
    [
        ("[saetze\n", "kein gültiges TOML"),
        ("beispiel = true\n", "Abschnitt [saetze] fehlt"),
        ("[saetze]\n1 = 0\n2 = 5\n", "Satz für 3 Branche(n) fehlt"),
        ("[saetze]\n1 = 0\n2 = 5\n3 = 10\n4 = 12\n", "unbekannte Anzahl „4“"),
        ("[saetze]\n1 = 0\n2 = 5\n3 = 101\n", "von 0 bis 100"),
        ('[saetze]\n1 = 0\n2 = "5 €"\n3 = 10\n', "von 0 bis 100"),
        ("saetz = 1\n", "unbekannter Eintrag „saetz“"),
        ('beispiel = "ja"\n[saetze]\n1 = 0\n2 = 5\n3 = 10\n', "true oder false"),
    ],
)
def test_it_rejects_a_malformed_rate_table_in_german(toml: str, fragment: str) -> None:
    with pytest.raises(KombiTableError) as caught:
        KombiRateTable.from_toml(toml)
    assert fragment in str(caught.value)
