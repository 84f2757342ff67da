"""Rule P4 Umstellungsnachlass: worked examples and the boundaries the seed draws."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pricing import answer_query
from pricing.query import parse_query
from pricing.requests import UmstellungRequest
from pricing.umstellung import UmstellungResult, compute_umstellung

BASE = {
    "sparte": "sach",
    "renta": "40",
    "alt": "1000",
    "neu": "1500",
    "risikobonus": "0",
    "tarifjahr": "2015",
    "monate": "24",
    "geschaeft": "ersatz",
}


def umstellung(**fields: str) -> UmstellungResult:
    values = {**BASE, **fields}
    text = "umstellung " + " ".join(f"{key}={value}" for key, value in values.items())
    request = parse_query(text)
    assert isinstance(request, UmstellungRequest)
    return compute_umstellung(request)


def rules(result: UmstellungResult) -> list[str]:
    return [reason.rule for reason in result.reasons]


def test_it_bounds_the_discount_by_the_old_premium_after_risikobonus() -> None:
    # P4a + P4c: 1500 € minus 10 % Risikobonus = 1350 €; 1350 × (1 − p) ≥ 1000 → p ≤ 25.925…
    result = umstellung(risikobonus="10")
    assert result.premium_after == Decimal("1350.00")
    assert result.floor == Decimal("1000.00")
    assert result.floor_rule == "P4c"
    assert result.max_percent == Decimal("25.92")
    assert result.discounted_premium == Decimal("1000.08")
    assert rules(result) == ["P4", "P4a", "P4b", "P4c", "P4c"]


def test_it_rounds_the_maximum_down_so_the_floor_holds() -> None:
    # P4c: 25.93 % would give 1349.99… below 1000 €; the answer stops at 25.92 %.
    result = umstellung(risikobonus="10")
    assert Decimal("1350") * (100 - result.max_percent - Decimal("0.01")) / 100 < 1000


@pytest.mark.parametrize(
    ("sparte", "cap", "discounted"),
    [("sach", "40", "1200.00"), ("haft", "40", "1200.00"), ("rs", "20", "1600.00")],
)
def test_it_caps_at_40_or_20_percent_for_renta_up_to_50(
    sparte: str, cap: str, discounted: str
) -> None:
    # P4b: renta ≤ 50 %: Sach and Haft 40 %, RS 20 %; the floor of 1000 € allows 50 %.
    result = umstellung(sparte=sparte, neu="2000")
    assert result.cap == Decimal(cap)
    assert result.max_percent == Decimal(cap)
    assert result.discounted_premium == Decimal(discounted)


def test_it_treats_renta_exactly_50_as_the_low_bracket() -> None:
    # P4b/P4e boundary: "bis 50 %" includes 50, so 40 % cap and no +20 % floor.
    result = umstellung(renta="50", neu="2000")
    assert result.cap == Decimal(40)
    assert result.floor == Decimal("1000.00")
    assert "P4e" not in rules(result)
    assert result.max_percent == Decimal(40)


def test_it_caps_at_20_percent_and_lifts_the_floor_just_above_renta_50() -> None:
    # P4b + P4e: renta 50,01 % → 20 % in every line, floor old + 20 % = 1200 €.
    result = umstellung(sparte="sach", renta="50,01", neu="2000")
    assert result.cap == Decimal(20)
    assert result.floor == Decimal("1200.00")
    assert result.floor_rule == "P4e"
    assert result.max_percent == Decimal(20)


def test_it_lets_the_renta_floor_bind_below_the_cap() -> None:
    # P4e: 1400 × (1 − p) ≥ 1200 → p ≤ 14.2857… → 14.28 %, below the 20 % cap.
    result = umstellung(renta="75", neu="1400")
    assert result.max_percent == Decimal("14.28")
    assert result.floor_rule == "P4e"
    assert result.discounted_premium == Decimal("1200.08")


def test_it_accepts_renta_exactly_100() -> None:
    # P4 precondition "maximal 100 %" includes 100; P4b/P4e of the upper bracket apply.
    result = umstellung(renta="100", neu="2000")
    assert result.eligible
    assert result.cap == Decimal(20)
    assert result.floor == Decimal("1200.00")


def test_it_refuses_renta_above_100() -> None:
    # P4 precondition.
    result = umstellung(renta="100,01", neu="2000")
    assert not result.eligible
    assert result.max_percent == 0
    assert result.floor is None
    assert rules(result) == ["P4"]


def test_it_accepts_a_contract_exactly_6_months_in_force() -> None:
    # P4 precondition "mindestens 6 Monate".
    assert umstellung(monate="6").eligible


def test_it_refuses_a_contract_5_months_in_force() -> None:
    # P4 precondition.
    result = umstellung(monate="5")
    assert not result.eligible
    assert "5 Monate" in result.reasons[0].text


def test_it_refuses_new_business() -> None:
    # P4 precondition: only Ersatzgeschäft.
    result = umstellung(geschaeft="neu")
    assert not result.eligible
    assert "Ersatzgeschäft" in result.reasons[0].text


def test_it_lists_every_failed_precondition() -> None:
    # P4: a broker should learn all reasons at once, not one per attempt.
    result = umstellung(renta="120", geschaeft="neu", monate="2")
    assert rules(result) == ["P4", "P4", "P4"]


@pytest.mark.parametrize(
    ("sparte", "tarifjahr", "older"),
    [
        ("haft", "2007", True),
        ("haft", "2008", False),
        ("sach", "2011", True),
        ("sach", "2012", False),
        ("rs", "2011", True),
        ("rs", "2012", False),
        ("haft", "2011", False),
    ],
)
def test_it_adds_10_percent_to_the_floor_for_older_tariff_generations(
    sparte: str, tarifjahr: str, older: bool
) -> None:
    # P4d: Sach < 2012, Haft < 2008, RS < 2012 → floor old + 10 % = 1100 €.
    result = umstellung(sparte=sparte, tarifjahr=tarifjahr, neu="1300")
    if older:
        assert result.floor == Decimal("1100.00")
        assert result.floor_rule == "P4d"
        assert result.max_percent == Decimal("15.38")  # 200 / 1300 = 15.384…
    else:
        assert result.floor == Decimal("1000.00")
        # RS is capped at 20 % (P4b); 300 / 1300 = 23.07… bounds Sach and Haft (P4c).
        assert result.max_percent == (Decimal(20) if sparte == "rs" else Decimal("23.07"))


def test_it_keeps_the_higher_floor_when_generation_and_renta_both_apply() -> None:
    # P4d (+10 %) and P4e (+20 %) both apply: the higher floor of 1200 € holds.
    result = umstellung(sparte="haft", tarifjahr="2005", renta="60", neu="1500")
    assert result.floor == Decimal("1200.00")
    assert result.floor_rule == "P4e"
    assert rules(result).count("P4d") == 1
    assert any("Beide Untergrenzen" in reason.text for reason in result.reasons)
    assert result.max_percent == Decimal(20)


def test_it_offers_nothing_when_the_new_premium_equals_the_old() -> None:
    # P4a: equal → no discount needed, none offered.
    result = umstellung(neu="1000")
    assert result.eligible
    assert not result.needed
    assert result.max_percent == 0
    assert result.floor is None


def test_it_compares_the_premium_after_risikobonus_with_the_old() -> None:
    # P4a: 1250 € minus 20 % Risikobonus = 1000 € = old premium → not needed.
    result = umstellung(neu="1250", risikobonus="20")
    assert result.premium_after == Decimal("1000.00")
    assert not result.needed


def test_it_offers_nothing_when_the_new_premium_is_below_the_floor() -> None:
    # P4a says needed (1050 > 1000), but P4d's floor of 1100 € leaves no room.
    result = umstellung(sparte="haft", tarifjahr="2007", neu="1050")
    assert result.needed
    assert result.max_percent == 0
    assert result.discounted_premium == Decimal("1050.00")
    assert result.reasons[-1].rule == "P4d"


def test_it_rounds_a_floor_with_a_fraction_of_a_cent_up() -> None:
    # P4d: 1000.05 × 1.1 = 1100.055 → the floor is 1100.06 €, never 1100.05 €.
    result = umstellung(sparte="sach", tarifjahr="2011", alt="1000,05", neu="1300")
    assert result.floor == Decimal("1100.06")
    assert result.discounted_premium is not None
    assert result.discounted_premium >= result.floor


def test_it_refuses_a_risikobonus_above_the_class_maximum() -> None:
    # P2 inside P4: an average risk allows at most 10 %, so 15 % is refused first.
    result = umstellung(risikobonus="15", klasse="durchschnitt")
    assert not result.eligible
    assert rules(result) == ["P2"]


def test_it_answers_in_german_with_the_bounding_numbers() -> None:
    # P4c worked example, as the broker reads it in Slack.
    answer = answer_query(
        "umstellung sparte=sach renta=40 alt=1000 neu=1500 risikobonus=10 "
        "tarifjahr=2015 monate=24 geschaeft=ersatz segment=ja"
    )
    text = answer.to_text()
    assert text.splitlines()[0] == "*Umstellungsnachlass (Sach): höchstens 25,92\xa0%*"
    assert "Voraussetzungen erfüllt" in text
    assert "Höchstsatz (P4b): 40\xa0%" in text
    assert "Untergrenze (P4c): 1.000,00\xa0€" in text
    assert "Beitrag mit Nachlass: 1.000,08\xa0€" in text
    assert "• P4a – " in text
    assert "Risikobonus erst nach finaler Eingabe" in text


def test_it_gives_machine_fields_as_two_decimal_strings() -> None:
    # P4c worked example in JSON form.
    data = answer_query(
        "umstellung sparte=sach renta=40 alt=1000 neu=1500 risikobonus=10 tarifjahr=2015 monate=24"
    ).to_dict()
    assert data["eligible"] is True
    assert data["needed"] is True
    assert data["max_percent"] == "25.92"
    assert data["premium_after"] == "1350.00"
    assert data["floor"] == "1000.00"
    assert data["cap"] == "40.00"
    assert data["reasons"] == [
        {"rule": reason.rule, "text": reason.text}
        for reason in answer_query(
            "umstellung sparte=sach renta=40 alt=1000 neu=1500 risikobonus=10 "
            "tarifjahr=2015 monate=24"
        ).reasons
    ]


def test_it_states_the_segment_as_an_open_condition_when_not_asked() -> None:
    # P4: "Ersatzgeschäft im FirmenKonzept-fähigen Segment" is a precondition of its own.
    answer = answer_query(
        "umstellung sparte=sach renta=40 alt=1000 neu=1500 risikobonus=10 tarifjahr=2015 monate=24"
    )
    text = answer.to_text()
    assert text.splitlines()[0] == (
        "*Umstellungsnachlass (Sach): höchstens 25,92\xa0% – sofern FirmenKonzept-Segment*"
    )
    assert "Voraussetzungen erfüllt" not in text
    assert "Offen: Liegt das Ersatzgeschäft in einem FirmenKonzept-fähigen Segment?" in text
    assert answer.to_dict()["open_conditions"] == ["segment"]


def test_it_refuses_the_discount_outside_a_firmenkonzept_segment() -> None:
    answer = answer_query(
        "umstellung sparte=sach renta=40 alt=1000 neu=1500 tarifjahr=2015 monate=24 segment=nein"
    )
    assert answer.headline == "Umstellungsnachlass (Sach): nicht möglich"
    assert "nicht in einem FirmenKonzept-fähigen Segment" in answer.to_text()
    assert answer.to_dict()["eligible"] is False
