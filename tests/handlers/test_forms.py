"""Modal submissions: every empty or unreadable field is named next to its input."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from handlers.blocks.modals import start_modal
from handlers.requests import (
    DESCRIPTION_BLOCK,
    FormErrors,
    InputError,
    NewOffer,
    StartFieldError,
    parse_offer_form,
    parse_start_form,
    parse_start_text,
)
from store.tender_input import DESCRIPTION_MAX
from tests.blocks import block


def text(value: str) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def start_values(**overrides: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "product": {
            "value": {"type": "static_select", "selected_option": {"value": "haftpflicht"}}
        },
        "customer": text("Bäckerei Korn GmbH"),
        "deductible": text("1.000"),
        "prior_claims": text("keine"),
        "description": text("Backstube mit Café"),
        "reason": {"value": {"type": "plain_text_input", "value": None}},
    }
    values.update(overrides)
    return values


def test_it_reads_a_complete_start_form() -> None:
    request = parse_start_form(start_values())
    assert request.product == "haftpflicht"
    assert request.customer_name == "Bäckerei Korn GmbH"
    assert request.risk.deductible == Decimal("1000")
    assert request.reason is None


def test_it_marks_the_field_the_service_refused_in_the_start_form() -> None:
    with pytest.raises(FormErrors) as caught:
        parse_start_form(start_values(customer=text("K" * 201)))
    assert caught.value.errors == {"customer": "Angabe „Kunde“: höchstens 200 Zeichen."}


def test_it_names_the_start_field_the_request_model_refused_in_german() -> None:
    with pytest.raises(StartFieldError) as refused:
        parse_start_text(
            f'sparte=haftpflicht kunde="Bäckerei Korn GmbH" vorschaeden=keine '
            f'beschreibung="{"x" * 3001}"'
        )
    assert (refused.value.field, refused.value.block, refused.value.message_de) == (
        "risk.description",
        DESCRIPTION_BLOCK,
        "Angabe „Risikobeschreibung“: höchstens 3000 Zeichen.",
    )


def test_it_holds_the_risk_description_to_one_limit_in_dialog_command_and_store() -> None:
    # Slack allows a plain-text input at most 3000 characters; the store may not allow more,
    # or the command would take what the dialog cannot (T1).
    element = block(start_modal(), DESCRIPTION_BLOCK)["element"]
    assert element["max_length"] == DESCRIPTION_MAX == 3000
    longest = "Backstube " * 300
    assert parse_start_form(start_values(description=text(longest))).risk.description == (
        longest.strip()
    )
    command = 'sparte=haftpflicht kunde="Korn" vorschaeden=keine beschreibung="{}"'
    assert parse_start_text(command.format("x" * 3000)).risk.description == "x" * 3000
    refusal = "Angabe „Risikobeschreibung“: höchstens 3000 Zeichen."
    with pytest.raises(InputError) as by_command:
        parse_start_text(command.format("x" * 3001))
    assert by_command.value.message_de == refusal
    with pytest.raises(FormErrors) as by_dialog:
        parse_start_form(start_values(description=text("x" * 3001)))
    assert by_dialog.value.errors == {DESCRIPTION_BLOCK: refusal}


def test_it_names_every_empty_required_field_of_the_start_form() -> None:
    values = start_values(
        product={"value": {"type": "static_select", "selected_option": None}},
        customer=text("  "),
        prior_claims=text(""),
        description=text(""),
        deductible=text("viel"),
    )
    with pytest.raises(FormErrors) as caught:
        parse_start_form(values)
    assert caught.value.errors == {
        "product": "Bitte eine Sparte wählen.",
        "customer": "Bitte den Kunden angeben.",
        "prior_claims": "Bitte die Vorschäden angeben (oder „keine“).",
        "description": "Bitte das Risiko beschreiben.",
        "deductible": "„viel“ ist kein Betrag für Selbstbeteiligung. "
        "Beispiel: 1.234,50 oder 1234.50 €",
    }


def test_it_reads_an_offer_form_with_a_datepicker() -> None:
    values = {
        "insurer": text("Allianz"),
        "premium": text("1.234,50 €"),
        "valid_until": {"value": {"type": "datepicker", "selected_date": "2026-12-31"}},
    }
    assert parse_offer_form("AS-2026-0001", values) == NewOffer(
        "AS-2026-0001", "Allianz", Decimal("1234.50"), date(2026, 12, 31)
    )


def test_it_names_every_empty_field_of_the_offer_form() -> None:
    values = {
        "insurer": text(""),
        "premium": text(""),
        "valid_until": {"value": {"type": "datepicker", "selected_date": None}},
    }
    with pytest.raises(FormErrors) as caught:
        parse_offer_form("AS-2026-0001", values)
    assert caught.value.errors == {
        "insurer": "Bitte den Versicherer angeben.",
        "premium": "Bitte den Jahresbeitrag angeben.",
        "valid_until": "Bitte angeben, bis wann das Angebot gilt.",
    }
