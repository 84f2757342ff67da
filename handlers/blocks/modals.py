"""The modals: start a tender (T1/T2) and add an offer (backoffice)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.blocks.base import Block, context, escape, plain
from handlers.requests import (
    CONSULTATION_BLOCK,
    CUSTOMER_BLOCK,
    DEDUCTIBLE_BLOCK,
    DESCRIPTION_BLOCK,
    DOCUMENTS_BLOCK,
    INPUT_ACTION,
    INSURER_BLOCK,
    PREMIUM_BLOCK,
    PRIOR_CLAIMS_BLOCK,
    PRODUCT_BLOCK,
    REASON_BLOCK,
    VALID_UNTIL_BLOCK,
)
from store.conversation import MAX_ATTACHMENT_MB
from store.documents import MAX_DOCUMENTS
from store.products import PRODUCT_LABELS
from store.tender_input import CUSTOMER_NAME_MAX, DESCRIPTION_MAX, PRIOR_CLAIMS_MAX, REASON_MAX

START_CALLBACK = "tender_start"
OFFER_CALLBACK = "tender_offer"
RESTART_NOTE_BLOCK = "start_restart_note"


def _input(
    block_id: str,
    label: str,
    element: Block,
    *,
    optional: bool = False,
    hint: str | None = None,
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": {**element, "action_id": INPUT_ACTION},
        "optional": optional,
    }
    if hint is not None:
        block["hint"] = plain(hint)
    return block


def _text_input(
    placeholder: str,
    *,
    multiline: bool = False,
    max_length: int = 200,
    initial: str | None = None,
) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "multiline": multiline,
        "max_length": max_length,
        "placeholder": plain(placeholder),
    }
    if initial:
        # Slack refuses an initial value longer than the input allows.
        element["initial_value"] = initial[:max_length]
    return element


@dataclass(frozen=True)
class StartPrefill:
    """Rule T9: a new tender after „keine Angebote“ starts from the previous one's data."""

    previous_reference: str
    product: str
    customer_name: str
    deductible: str
    prior_claims: str
    description: str
    reason: str


def _modal(callback_id: str, title: str, submit: str, blocks: list[Block]) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title),
        "submit": plain(submit),
        "close": plain("Abbrechen"),
        "blocks": blocks,
    }


def start_modal(prefill: StartPrefill | None = None) -> dict[str, Any]:
    """Rules T1/T2; with ``prefill`` the new start after „keine Angebote“ (T9)."""
    options = [
        {"text": plain(label), "value": product} for product, label in PRODUCT_LABELS.items()
    ]
    product: Block = {
        "type": "static_select",
        "placeholder": plain("Sparte wählen"),
        "options": options,
    }
    given = prefill or StartPrefill("", "", "", "", "", "", "")
    chosen = [option for option in options if option["value"] == given.product]
    if chosen:
        product["initial_option"] = chosen[0]
    intro: list[Block] = []
    if prefill is not None:
        intro.append(
            context(
                f"Neuer Anlauf nach *{prefill.previous_reference}* (keine Angebote): passen "
                "Sie die Angaben an. Die neue Ausschreibung wird mit der vorigen verknüpft.",
                block_id=RESTART_NOTE_BLOCK,
            )
        )
    blocks: list[Block] = [
        *intro,
        context(
            "Die Risikodaten werden mit dem Start eingefroren (T3). Spätere Änderungen teilen "
            "Sie dem Backoffice als Nachricht mit."
        ),
        _input(PRODUCT_BLOCK, "Sparte", product),
        _input(
            CUSTOMER_BLOCK,
            "Kunde",
            _text_input(
                "z. B. Bäckerei Korn GmbH",
                max_length=CUSTOMER_NAME_MAX,
                initial=given.customer_name,
            ),
        ),
        _input(
            DEDUCTIBLE_BLOCK,
            "Selbstbeteiligung (€)",
            _text_input("z. B. 1.000", max_length=20, initial=given.deductible),
            optional=True,
        ),
        _input(
            PRIOR_CLAIMS_BLOCK,
            "Vorschäden",
            _text_input(
                "z. B. keine, oder: 2024 Leitungswasser 3.200 €",
                multiline=True,
                max_length=PRIOR_CLAIMS_MAX,
                initial=given.prior_claims,
            ),
        ),
        _input(
            DESCRIPTION_BLOCK,
            "Risikobeschreibung",
            _text_input(
                "Betriebsart, Mitarbeiter, Versicherungssummen …",
                multiline=True,
                max_length=DESCRIPTION_MAX,
                initial=given.description,
            ),
        ),
        _input(
            REASON_BLOCK,
            "Grund für weitere Angebote",
            _text_input(
                "Warum weitere Angebote?",
                multiline=True,
                max_length=REASON_MAX,
                initial=given.reason,
            ),
            optional=True,
            hint="Pflicht, wenn für diese Sparte schon Angebote aus dem Tarifrechner vorliegen.",
        ),
        _input(
            DOCUMENTS_BLOCK,
            "Dokumente",
            {"type": "file_input", "max_files": MAX_DOCUMENTS},
            optional=True,
            hint=(
                f"z. B. Schadenaufstellung, Fotos, Pläne; höchstens {MAX_DOCUMENTS} Dateien zu "
                f"je {MAX_ATTACHMENT_MB} MB, keine Programme."
            ),
        ),
        _input(
            CONSULTATION_BLOCK,
            "Beratung",
            _text_input("z. B. B-2026-0815", max_length=64),
            optional=True,
            hint="Beratungsnummer der Plattform, falls dort Tarifrechner-Angebote vorliegen.",
        ),
    ]
    view = _modal(START_CALLBACK, "Ausschreibung starten", "Starten", blocks)
    if prefill is not None:
        view["private_metadata"] = prefill.previous_reference
    return view


def offer_modal(reference: str, customer_name: str, product: str) -> dict[str, Any]:
    blocks: list[Block] = [
        context(f"*{reference}* · {escape(product)} für {escape(customer_name)}"),
        _input(INSURER_BLOCK, "Versicherer", _text_input("z. B. Allianz")),
        _input(PREMIUM_BLOCK, "Jahresbeitrag (€)", _text_input("z. B. 1.234,50", max_length=20)),
        _input(
            VALID_UNTIL_BLOCK,
            "Gültig bis",
            {"type": "datepicker", "placeholder": plain("Datum wählen")},
        ),
    ]
    view = _modal(OFFER_CALLBACK, "Angebot einstellen", "Einstellen", blocks)
    view["private_metadata"] = reference
    return view


def field_errors(errors: dict[str, str]) -> dict[str, Any]:
    """The ack body that shows each message next to its input block."""
    return {"response_action": "errors", "errors": errors}
