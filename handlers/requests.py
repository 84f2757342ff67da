"""Slash command text and modal input, parsed into the one object a service call takes.

A modal reports problems per input block (``FormErrors``) so Slack shows each next to its
field; command text reports the first problem as one German sentence (``InputError``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from handlers.parsing import (
    InputError,
    parse_amount,
    parse_arguments,
    parse_date,
    parse_reference,
    require,
)
from store.products import PRODUCT_LABELS, normalise_product
from store.tender_input import StartTender

START_EXAMPLE = (
    '/ausschreibung neu sparte=haftpflicht kunde="Bäckerei Korn GmbH" sb=1.000 '
    'vorschaeden=keine beschreibung="Backstube mit Café, 12 Mitarbeiter"'
)
OFFER_EXAMPLE = "/angebot AS-2026-0001 versicherer=Allianz beitrag=1.234,50 gueltig-bis=31.12.2026"

START_FIELDS = {
    "sparte": "sparte",
    "produkt": "sparte",
    "kunde": "kunde",
    "sb": "sb",
    "selbstbeteiligung": "sb",
    "vorschaeden": "vorschaeden",
    "beschreibung": "beschreibung",
    "risiko": "beschreibung",
    "grund": "grund",
    "vorige": "vorige",
    "beratung": "beratung",
}
OFFER_FIELDS = {
    "versicherer": "versicherer",
    "beitrag": "beitrag",
    "jahresbeitrag": "beitrag",
    "praemie": "beitrag",
    "gueltig-bis": "gueltig-bis",
    "gueltig_bis": "gueltig-bis",
    "gueltigbis": "gueltig-bis",
    "gueltig": "gueltig-bis",
}

# Block ids of the start modal: a service error on a field is shown on that block.
PRODUCT_BLOCK = "product"
CUSTOMER_BLOCK = "customer"
DEDUCTIBLE_BLOCK = "deductible"
PRIOR_CLAIMS_BLOCK = "prior_claims"
DESCRIPTION_BLOCK = "description"
REASON_BLOCK = "reason"
DOCUMENTS_BLOCK = "documents"
CONSULTATION_BLOCK = "consultation"
INSURER_BLOCK = "insurer"
PREMIUM_BLOCK = "premium"
VALID_UNTIL_BLOCK = "valid_until"
INPUT_ACTION = "value"


# A refused field by its model path: its German name, and the modal input that marks it.
START_FIELD_LABELS = {
    "product": "Sparte",
    "customer_name": "Kunde",
    "risk.deductible": "Selbstbeteiligung",
    "risk.prior_claims": "Vorschäden",
    "risk.description": "Risikobeschreibung",
    "reason": "Grund",
    "consultation": "Beratung",
}
START_BLOCKS = {
    "product": PRODUCT_BLOCK,
    "customer_name": CUSTOMER_BLOCK,
    "risk.deductible": DEDUCTIBLE_BLOCK,
    "risk.prior_claims": PRIOR_CLAIMS_BLOCK,
    "risk.description": DESCRIPTION_BLOCK,
    "reason": REASON_BLOCK,
    "consultation": CONSULTATION_BLOCK,
}


class StartFieldError(InputError):
    """A start field the request model refused (its path, e.g. ``risk.description``), with
    the modal block that shows it."""

    def __init__(self, message_de: str, field: str) -> None:
        super().__init__(message_de)
        self.field = field
        self.block = START_BLOCKS.get(field, DESCRIPTION_BLOCK)


class FormErrors(ValueError):
    """Problems of a submitted modal: block id → German message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{block}: {text}" for block, text in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class NewOffer:
    reference: str
    insurer: str
    premium: Decimal
    valid_until: date


def _product(raw: str) -> str:
    product = normalise_product(raw)
    if product is None:
        known = ", ".join(PRODUCT_LABELS)
        raise InputError(f"Die Sparte „{raw}“ kenne ich nicht. Möglich sind: {known}.")
    return product


def _start(
    *,
    product: str,
    customer: str,
    deductible: Decimal | None,
    prior_claims: str,
    description: str,
    reason: str | None,
    previous: str | None = None,
    consultation: str | None = None,
) -> StartTender:
    try:
        return StartTender.model_validate(
            {
                "product": product,
                "customer_name": customer,
                "risk": {
                    "deductible": deductible,
                    "prior_claims": prior_claims,
                    "description": description,
                },
                "reason": reason or None,
                "previous_reference": previous,
                "consultation": consultation or None,
            }
        )
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"])
        label = START_FIELD_LABELS.get(field, field)
        raise StartFieldError(f"Angabe „{label}“: {_start_problem(first)}.", field) from None


def _start_problem(problem: Any) -> str:
    """What is wrong with one start field, in German (pydantic's own text is English)."""
    limit = (problem.get("ctx") or {}).get("max_length")
    if problem["type"] == "string_too_long" and limit is not None:
        return f"höchstens {limit} Zeichen"
    if problem["type"] in ("string_too_short", "missing"):
        return "fehlt"
    if problem["type"] == "greater_than_equal":
        return "darf nicht negativ sein"
    return "ungültig"


def parse_start_text(text: str) -> StartTender:
    """``sparte=… kunde=… sb=… vorschaeden=… beschreibung="…" [grund="…"] [vorige=AS-…]
    [beratung=…]``."""
    arguments = parse_arguments(text, START_FIELDS, example=START_EXAMPLE)
    require(arguments, ("sparte", "kunde", "vorschaeden", "beschreibung"), example=START_EXAMPLE)
    named = arguments.named
    previous = parse_reference(named["vorige"]) if "vorige" in named else None
    return _start(
        product=_product(named["sparte"]),
        customer=named["kunde"],
        deductible=parse_amount(named["sb"], field="sb") if "sb" in named else None,
        prior_claims=named["vorschaeden"],
        description=named["beschreibung"],
        reason=named.get("grund"),
        previous=previous,
        consultation=named.get("beratung"),
    )


def parse_offer_text(text: str) -> NewOffer | str:
    """A full offer, or just the reference (the caller then opens the offer modal)."""
    arguments = parse_arguments(text, OFFER_FIELDS, example=OFFER_EXAMPLE, max_positional=1)
    if not arguments.positional:
        raise InputError(f"Bitte die Ausschreibungsnummer angeben. Beispiel: {OFFER_EXAMPLE}")
    reference = parse_reference(arguments.positional[0])
    if not arguments.named:
        return reference
    require(arguments, ("versicherer", "beitrag", "gueltig-bis"), example=OFFER_EXAMPLE)
    named = arguments.named
    return NewOffer(
        reference=reference,
        insurer=named["versicherer"],
        premium=parse_amount(named["beitrag"], field="beitrag"),
        valid_until=parse_date(named["gueltig-bis"], field="gueltig-bis"),
    )


# -- modals --------------------------------------------------------------------------------


def _text(values: dict[str, Any], block: str) -> str:
    entry = values.get(block, {}).get(INPUT_ACTION, {})
    if entry.get("type") == "static_select":
        selected = entry.get("selected_option") or {}
        return str(selected.get("value") or "").strip()
    if entry.get("type") == "datepicker":
        return str(entry.get("selected_date") or "").strip()
    return str(entry.get("value") or "").strip()


def _collect(checks: dict[str, Any]) -> dict[str, str]:
    return {block: message for block, message in checks.items() if message}


def parse_start_form(values: dict[str, Any], *, previous: str | None = None) -> StartTender:
    """The submitted start modal (``view.state.values``); ``previous`` is the tender it
    starts again after „keine Angebote“ (T9), from the view's private_metadata."""
    errors: dict[str, str] = {}
    product = _text(values, PRODUCT_BLOCK)
    customer = _text(values, CUSTOMER_BLOCK)
    prior_claims = _text(values, PRIOR_CLAIMS_BLOCK)
    description = _text(values, DESCRIPTION_BLOCK)
    errors.update(
        _collect(
            {
                PRODUCT_BLOCK: not product and "Bitte eine Sparte wählen.",
                CUSTOMER_BLOCK: not customer and "Bitte den Kunden angeben.",
                PRIOR_CLAIMS_BLOCK: not prior_claims
                and "Bitte die Vorschäden angeben (oder „keine“).",
                DESCRIPTION_BLOCK: not description and "Bitte das Risiko beschreiben.",
            }
        )
    )
    deductible: Decimal | None = None
    raw_deductible = _text(values, DEDUCTIBLE_BLOCK)
    if raw_deductible:
        try:
            deductible = parse_amount(raw_deductible, field="Selbstbeteiligung")
        except InputError as error:
            errors[DEDUCTIBLE_BLOCK] = error.message_de
    if product and normalise_product(product) is None:
        errors[PRODUCT_BLOCK] = "Diese Sparte kenne ich nicht."
    if errors:
        raise FormErrors(errors)
    try:
        return _start(
            product=product,
            customer=customer,
            deductible=deductible,
            prior_claims=prior_claims,
            description=description,
            reason=_text(values, REASON_BLOCK),
            previous=previous or None,
            consultation=_text(values, CONSULTATION_BLOCK),
        )
    except StartFieldError as error:
        raise FormErrors({error.block: error.message_de}) from None


def parse_offer_form(reference: str, values: dict[str, Any]) -> NewOffer:
    """The submitted offer modal; the reference travels in the view's private_metadata."""
    errors: dict[str, str] = {}
    insurer = _text(values, INSURER_BLOCK)
    raw_premium = _text(values, PREMIUM_BLOCK)
    raw_valid_until = _text(values, VALID_UNTIL_BLOCK)
    if not insurer:
        errors[INSURER_BLOCK] = "Bitte den Versicherer angeben."
    premium = Decimal(0)
    valid_until = date.min
    try:
        premium = parse_amount(raw_premium, field="Jahresbeitrag")
    except InputError as error:
        errors[PREMIUM_BLOCK] = (
            error.message_de if raw_premium else "Bitte den Jahresbeitrag angeben."
        )
    try:
        valid_until = parse_date(raw_valid_until, field="gültig bis")
    except InputError as error:
        errors[VALID_UNTIL_BLOCK] = (
            error.message_de if raw_valid_until else "Bitte angeben, bis wann das Angebot gilt."
        )
    if errors:
        raise FormErrors(errors)
    return NewOffer(reference=reference, insurer=insurer, premium=premium, valid_until=valid_until)
