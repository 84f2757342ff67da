"""Rule T10 through the real app: where the message module is not open, the advice for an
expired offer gives the start page's contact details (TENDERBOT_CONTACT), not a thread."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.localslack import LocalSlack, SignedSender
from bot.personas import ANNA
from bot.settings import Settings
from store.conversation import post_message
from store.db import transaction
from store.models import Broker
from store.tenders import add_offer, close_tender
from tests.conftest import BERND_ACTOR
from tests.handlers.scenario import start_tender, thread_links
from tests.slack.conftest import app_settings

CONTACT = "Backoffice Sach, 0221 987 654-0, backoffice@makler-service.example"


@pytest.fixture
def slack_settings(slack: LocalSlack, database_url: str) -> Settings:
    return app_settings(slack, database_url, contact=f"  {CONTACT} ")


async def offer_until(
    sessions: async_sessionmaker[AsyncSession], reference: str, valid_until: date
) -> int:
    async with transaction(sessions) as session:
        offer = await add_offer(
            session,
            BERND_ACTOR,
            reference,
            insurer="Allianz",
            premium=Decimal("980"),
            valid_until=valid_until,
            today=date(2026, 11, 23),
        )
        return offer.id


async def select_after_expiry(
    slack: LocalSlack, slack_request: SignedSender, reference: str, offer_id: int
) -> str:
    before = len(slack.responses(ANNA))
    with time_machine.travel("2026-12-02 10:00 +01:00", tick=True):
        await slack_request.send_button(ANNA, "offer_select", f"{reference}|{offer_id}")
        await slack.wait_for(lambda: len(slack.responses(ANNA)) > before)
    return str(slack.responses(ANNA)[-1]["text"])


async def test_it_gives_the_configured_contact_for_an_expired_offer_without_a_message_module(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with time_machine.travel("2026-11-23 10:00 +01:00", tick=True):
        reference = await start_tender(slack_request, slack, sessions)
        offer_id = await offer_until(sessions, reference, date(2026, 11, 30))

    answer = await select_after_expiry(slack, slack_request, reference, offer_id)

    assert "Dieses Angebot ist abgelaufen." in answer
    assert f"bitte wenden Sie sich an: {CONTACT}" in answer
    assert "Thread" not in answer


async def test_it_points_to_the_message_module_once_the_backoffice_opened_it(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with time_machine.travel("2026-11-23 10:00 +01:00", tick=True):
        reference = await start_tender(slack_request, slack, sessions)
        offer_id = await offer_until(sessions, reference, date(2026, 11, 30))
        async with transaction(sessions) as session:
            await post_message(session, BERND_ACTOR, reference, "Gibt es Vorschäden?")

    answer = await select_after_expiry(slack, slack_request, reference, offer_id)

    assert f"Nachrichtenmodul der Ausschreibung {reference}" in answer
    assert CONTACT not in answer


async def test_it_gives_the_configured_contact_when_anna_writes_under_a_closed_tender(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # rule M4
    reference = await start_tender(slack_request, slack, sessions)
    [_, card] = await thread_links(sessions)
    async with transaction(sessions) as session:
        await close_tender(session, BERND_ACTOR, reference)

    await slack_request.send_message(ANNA, card.channel, "Noch eine Frage", thread_ts=card.ts)

    def notices() -> list[str]:
        thread = slack.messages(card.channel, card.ts)
        return [m["text"] for m in thread if m.get("bot_id") and m["ts"] != card.ts]

    await slack.wait_for(lambda: len(notices()) >= 1)
    [notice] = notices()
    assert f"Die Ausschreibung {reference} ist abgeschlossen" in notice
    assert f"Bitte wenden Sie sich an: {CONTACT}" in notice
    assert "Startseite" not in notice
