"""A service refusal in a modal is shown on the input it names (``DomainError.field``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.localslack import LocalSlack, SignedSender
from store.models import Broker
from tests.conftest import BERND
from tests.handlers.scenario import load_tender, start_tender


@pytest.fixture(autouse=True)
def november_2026() -> Iterator[None]:
    with time_machine.travel("2026-11-23 10:00 +01:00", tick=True):
        yield


def offer_values(insurer: str, premium: str, valid_until: str) -> dict[str, Any]:
    def text(value: str) -> dict[str, Any]:
        return {"value": {"type": "plain_text_input", "value": value}}

    return {
        "insurer": text(insurer),
        "premium": text(premium),
        "valid_until": {"value": {"type": "datepicker", "selected_date": valid_until}},
    }


@pytest.mark.parametrize(
    ("insurer", "premium", "valid_until", "errors"),
    [
        (
            "Allianz",
            "0",
            "2026-12-31",
            {"premium": "Der Jahresbeitrag muss größer als 0 € sein."},
        ),
        (
            "A" * 201,
            "1.200,00",
            "2026-12-31",
            {"insurer": "Bitte den Versicherer angeben (höchstens 200 Zeichen)."},
        ),
        (
            "Allianz",
            "1.200,00",
            "2026-11-22",
            {
                "valid_until": "Das Angebot wäre bereits abgelaufen: gültig-bis liegt in der "
                "Vergangenheit."
            },
        ),
    ],
)
async def test_it_shows_backoffice_bernd_the_refused_offer_field(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
    insurer: str,
    premium: str,
    valid_until: str,
    errors: dict[str, str],
) -> None:
    # rule T7: nothing is stored when the offer is refused
    reference = await start_tender(slack_request, slack, sessions)

    refused = await slack_request.send_view_submission(
        BERND,
        {
            "callback_id": "tender_offer",
            "private_metadata": reference,
            "state": {"values": offer_values(insurer, premium, valid_until)},
        },
    )

    assert refused.json() == {"response_action": "errors", "errors": errors}
    assert (await load_tender(sessions, reference)).offers == []
