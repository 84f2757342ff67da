"""Rule T9 through the real app: after „keine Angebote“ Anna starts again from a dialog
prefilled with the previous tender, and the new tender is linked to it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.localslack import LocalSlack, SignedSender
from bot.personas import ANNA, CARLA
from handlers.blocks.modals import RESTART_NOTE_BLOCK
from handlers.blocks.restart import RESTART_BLOCK
from store.models import Broker
from tests.blocks import block, block_text
from tests.conftest import BACKOFFICE_CHANNEL, BERND
from tests.handlers.scenario import eventually, links_of, load_tender, start_tender

START = (
    'neu sparte=sach kunde="Bäckerei Korn GmbH" sb=2.500 vorschaeden="2024 Sturm 800 €" '
    'beschreibung="Backstube, 12 Mitarbeiter" grund="Tarifrechner zu teuer"'
)


@pytest.fixture(autouse=True)
def november_2026() -> Iterator[None]:
    with time_machine.travel("2026-11-23 10:00 +01:00", tick=True):
        yield


async def no_offers_notice(
    slack: LocalSlack, slack_request: SignedSender, reference: str
) -> dict[str, Any]:
    """Bernd reports „keine Angebote“ on the card; Anna's DM gets the notice."""
    [card] = slack.messages(BACKOFFICE_CHANNEL)
    await slack_request.send_button(
        BERND, "tender_no_offers", reference, channel=BACKOFFICE_CHANNEL, message=card
    )
    await slack.wait_for(lambda: len(slack.messages("D0ANNA")) == 2)
    return slack.messages("D0ANNA")[1]


def submitted_values(view: dict[str, Any]) -> dict[str, Any]:
    """What Slack sends back for an untouched dialog: every input's initial value."""
    values: dict[str, Any] = {}
    for item in view["blocks"]:
        if item["type"] != "input":
            continue
        element = item["element"]
        entry: dict[str, Any] = {"type": element["type"]}
        if element["type"] == "static_select":
            entry["selected_option"] = element.get("initial_option")
        elif element["type"] == "plain_text_input":
            entry["value"] = element.get("initial_value")
        elif element["type"] == "file_input":
            entry["files"] = []
        values[item["block_id"]] = {element["action_id"]: entry}
    return values


async def test_it_starts_a_linked_tender_from_the_prefilled_dialog_after_no_offers(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reference = await start_tender(slack_request, slack, sessions, text=START)
    notice = await no_offers_notice(slack, slack_request, reference)
    [button] = block(notice, RESTART_BLOCK)["elements"]

    await slack_request.send_button(
        ANNA, button["action_id"], button["value"], message=notice, block_id=RESTART_BLOCK
    )
    [opened] = await slack.wait_for_calls("views.open")
    view = opened.params["view"]
    assert view["private_metadata"] == reference
    assert reference in block_text(view, RESTART_NOTE_BLOCK)
    values = submitted_values(view)
    assert values["product"]["value"]["selected_option"]["value"] == "sach"
    assert values["customer"]["value"]["value"] == "Bäckerei Korn GmbH"
    assert values["deductible"]["value"]["value"] == "2.500,00\xa0€"
    assert values["prior_claims"]["value"]["value"] == "2024 Sturm 800 €"
    assert values["description"]["value"]["value"] == "Backstube, 12 Mitarbeiter"
    assert values["reason"]["value"]["value"] == "Tarifrechner zu teuer"

    # Anna adjusts the risk and starts.
    values["description"]["value"]["value"] = "Backstube ohne Café, 8 Mitarbeiter, Sprinkler"
    answer = await slack_request.send_view_submission(
        ANNA,
        {
            "callback_id": view["callback_id"],
            "private_metadata": view["private_metadata"],
            "state": {"values": values},
        },
    )

    assert answer.status == 200 and answer.text == ""
    await eventually(lambda: links_of(sessions, "AS-2026-0002", 2))
    previous = await load_tender(sessions, reference)
    again = await load_tender(sessions, "AS-2026-0002")
    assert again.previous_tender_id == previous.id
    assert again.risk == {
        "deductible": "2500.00",
        "prior_claims": "2024 Sturm 800 €",
        "description": "Backstube ohne Café, 8 Mitarbeiter, Sprinkler",
    }
    assert again.customer_name == "Bäckerei Korn GmbH"
    assert again.status == "open"


async def test_it_opens_no_dialog_for_carla_on_annas_tender(
    anna: Broker,
    carla: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reference = await start_tender(slack_request, slack, sessions, text=START)
    await no_offers_notice(slack, slack_request, reference)

    await slack_request.send_button(CARLA, "tender_restart", reference)

    await slack.wait_for(lambda: len(slack.responses(CARLA)) == 1)
    assert "gehört nicht zu Ihren Ausschreibungen" in slack.responses(CARLA)[0]["text"]
    assert slack.calls("views.open") == []


async def test_it_opens_no_dialog_while_the_tender_still_runs(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reference = await start_tender(slack_request, slack, sessions, text=START)

    await slack_request.send_button(ANNA, "tender_restart", reference)

    await slack.wait_for(lambda: len(slack.responses(ANNA)) == 2)
    assert "nicht mit „keine Angebote“ abgeschlossen" in slack.responses(ANNA)[1]["text"]
    assert slack.calls("views.open") == []
