"""Modals through the real app: open on command or button, submit, field errors (T1, T2)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.localslack import LocalSlack, SignedSender
from bot.personas import ANNA
from store.models import Broker, Tender
from tests.conftest import BACKOFFICE_CHANNEL, BERND
from tests.handlers.scenario import (
    all_text,
    calculator_offer_for,
    command_reply,
    eventually,
    links_of,
    load_tender,
    start_tender,
)


@pytest.fixture(autouse=True)
def november_2026() -> Iterator[None]:
    with time_machine.travel("2026-11-23 10:00 +01:00", tick=True):
        yield


def text(value: str | None) -> dict[str, Any]:
    return {"value": {"type": "plain_text_input", "value": value}}


def start_values(**overrides: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "product": {"value": {"type": "static_select", "selected_option": {"value": "sach"}}},
        "customer": text("Korn"),
        "deductible": text("2.500,00"),
        "prior_claims": text("2024 Leitungswasser 3.200 €"),
        "description": text("Lager mit Backwaren"),
        "reason": text(None),
    }
    values.update(overrides)
    return values


def offer_values(insurer: str, premium: str, valid_until: str | None) -> dict[str, Any]:
    return {
        "insurer": text(insurer),
        "premium": text(premium),
        "valid_until": {"value": {"type": "datepicker", "selected_date": valid_until}},
    }


async def tender_count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Tender)) or 0)


async def opened_view(slack: LocalSlack, count: int = 1) -> dict[str, Any]:
    calls = await slack.wait_for_calls("views.open", count)
    view = calls[count - 1].params["view"]
    assert isinstance(view, dict)
    return view


async def test_it_opens_the_start_modal_for_ausschreibung_without_text(
    anna: Broker, slack: LocalSlack, slack_request: SignedSender
) -> None:
    response = await slack_request.send_command(ANNA, "/ausschreibung")

    assert response.status == 200
    view = await opened_view(slack)
    assert view["callback_id"] == "tender_start"
    assert [block.get("block_id") for block in view["blocks"] if block["type"] == "input"] == [
        "product",
        "customer",
        "deductible",
        "prior_claims",
        "description",
        "reason",
        "documents",
        "consultation",
    ]
    assert slack.calls("views.open")[0].params["trigger_id"]


async def test_it_starts_a_tender_from_the_modal_and_posts_both_cards(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Rules T1, T3, T4, T5."""
    response = await slack_request.send_view_submission(
        ANNA, {"callback_id": "tender_start", "state": {"values": start_values()}}
    )

    assert response.status == 200
    assert response.text == ""
    await eventually(lambda: links_of(sessions, "AS-2026-0001", 2))
    tender = await load_tender(sessions, "AS-2026-0001")
    assert tender.risk == {
        "deductible": "2500.00",
        "prior_claims": "2024 Leitungswasser 3.200 €",
        "description": "Lager mit Backwaren",
    }
    assert "Selbstbeteiligung*\\n2.500,00\xa0€" in all_text(slack.messages(BACKOFFICE_CHANNEL)[0])
    assert "Anfragebestätigung AS-2026-0001" in all_text(slack.messages("D0ANNA")[0])


async def test_it_shows_an_empty_field_as_a_field_error_and_stores_nothing(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    response = await slack_request.send_view_submission(
        ANNA,
        {
            "callback_id": "tender_start",
            "state": {"values": start_values(customer=text("   "), deductible=text("viel"))},
        },
    )

    assert response.json() == {
        "response_action": "errors",
        "errors": {
            "customer": "Bitte den Kunden angeben.",
            "deductible": "„viel“ ist kein Betrag für Selbstbeteiligung. "
            "Beispiel: 1.234,50 oder 1234.50 €",
        },
    }
    assert await tender_count(sessions) == 0
    assert slack.calls("chat.postMessage") == []


async def test_it_shows_the_t2_refusal_on_the_reason_field(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Rule T2: with calculator offers for the line a reason is required."""
    await calculator_offer_for(sessions, anna, "Korn", "sach")
    values = start_values()
    view = {"callback_id": "tender_start", "state": {"values": values}}

    refused = await slack_request.send_view_submission(ANNA, view)

    body = refused.json()
    assert body["response_action"] == "errors"
    assert list(body["errors"]) == ["reason"]
    assert "Tarifrechner" in body["errors"]["reason"]
    assert await tender_count(sessions) == 0

    values["reason"] = text("Kunde wünscht Vergleich")
    accepted = await slack_request.send_view_submission(ANNA, view)
    assert accepted.text == ""
    assert (await load_tender(sessions, "AS-2026-0001")).reason == "Kunde wünscht Vergleich"


async def test_it_shows_a_running_tender_on_the_product_field(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    view = {"callback_id": "tender_start", "state": {"values": start_values()}}
    await slack_request.send_view_submission(ANNA, view)

    again = await slack_request.send_view_submission(ANNA, view)

    errors = again.json()["errors"]
    assert list(errors) == ["product"]
    assert "läuft bereits die Ausschreibung AS-2026-0001" in errors["product"]
    assert await tender_count(sessions) == 1


async def test_it_does_not_open_the_start_modal_for_the_backoffice(
    slack: LocalSlack, slack_request: SignedSender
) -> None:
    reply = await command_reply(slack_request, slack, BERND, "/ausschreibung")
    assert reply["text"].startswith("Eine Ausschreibung startet der Vermittler.")
    assert slack.calls("views.open") == []


async def test_it_lets_bernd_add_an_offer_through_the_card_button_and_modal(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Rule T7: the offer is a tender offer; the card and the broker notice follow."""
    reference = await start_tender(slack_request, slack, sessions)
    [card] = slack.messages(BACKOFFICE_CHANNEL)

    await slack_request.send_button(
        BERND, "tender_offer_open", reference, channel=BACKOFFICE_CHANNEL, message=card
    )
    view = await opened_view(slack)
    assert view["callback_id"] == "tender_offer"
    assert view["private_metadata"] == reference
    assert "Bäckerei Korn GmbH" in all_text(view)

    response = await slack_request.send_view_submission(
        BERND,
        {
            "callback_id": "tender_offer",
            "private_metadata": reference,
            "state": {"values": offer_values("Allianz", "1.234,50 €", "2026-12-31")},
        },
    )

    assert response.text == ""
    [offer] = (await load_tender(sessions, reference)).offers
    assert (offer.source, offer.insurer, offer.premium_cents, offer.valid_until) == (
        "tender",
        "Allianz",
        123450,
        date(2026, 12, 31),
    )
    [confirmation] = await slack.wait_for_calls("chat.postEphemeral")
    assert confirmation.params["user"] == BERND
    assert "Angebot von *Allianz*" in confirmation.params["text"]


async def test_it_opens_the_offer_modal_for_angebot_with_only_a_reference(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reference = await start_tender(slack_request, slack, sessions)
    await slack_request.send_command(BERND, "/angebot", reference)
    view = await opened_view(slack)
    assert (view["callback_id"], view["private_metadata"]) == ("tender_offer", reference)


async def test_it_shows_offer_modal_problems_next_to_their_fields(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reference = await start_tender(slack_request, slack, sessions)

    empty = await slack_request.send_view_submission(
        BERND,
        {
            "callback_id": "tender_offer",
            "private_metadata": reference,
            "state": {"values": offer_values("", "", None)},
        },
    )
    assert empty.json() == {
        "response_action": "errors",
        "errors": {
            "insurer": "Bitte den Versicherer angeben.",
            "premium": "Bitte den Jahresbeitrag angeben.",
            "valid_until": "Bitte angeben, bis wann das Angebot gilt.",
        },
    }
    expired = await slack_request.send_view_submission(
        BERND,
        {
            "callback_id": "tender_offer",
            "private_metadata": reference,
            "state": {"values": offer_values("Allianz", "100", "2026-01-01")},
        },
    )
    assert list(expired.json()["errors"]) == ["valid_until"]
    assert (await load_tender(sessions, reference)).offers == []


async def test_it_refuses_the_offer_modal_to_broker_anna(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reference = await start_tender(slack_request, slack, sessions)

    await slack_request.send_button(ANNA, "tender_offer_open", reference)
    await slack.wait_for(lambda: len(slack.responses(ANNA)) == 2)
    assert slack.responses(ANNA)[1]["text"] == (
        "Angebote einstellen ist dem Backoffice vorbehalten."
    )
    assert slack.calls("views.open") == []

    forged = await slack_request.send_view_submission(
        ANNA,
        {
            "callback_id": "tender_offer",
            "private_metadata": reference,
            "state": {"values": offer_values("Allianz", "100", "2026-12-31")},
        },
    )
    assert forged.json()["errors"] == {
        "insurer": "Angebote einstellen ist dem Backoffice vorbehalten."
    }
    assert (await load_tender(sessions, reference)).offers == []
