"""The App Home tab through the real app: what broker Anna and backoffice Bernd see."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.localslack import LocalSlack, SignedSender
from bot.personas import ANNA, CARLA
from handlers.blocks.home import HEADER_BLOCK as HOME_HEADER_BLOCK
from store.bookings import charge_policy
from store.budget import post_entry
from store.db import transaction
from store.models import Broker
from store.tenders import add_offer
from tests.blocks import block_text
from tests.conftest import BERND, BERND_ACTOR
from tests.handlers.scenario import CARLA_START_TEXT, STRANGER, all_text, start_tender


@pytest.fixture(autouse=True)
def november_2026() -> Iterator[None]:
    with time_machine.travel("2026-11-23 10:00 +01:00", tick=True):
        yield


async def open_home(slack: LocalSlack, slack_request: SignedSender, user: str) -> dict[str, Any]:
    before = len(slack.calls("views.publish"))
    event = {
        "type": "app_home_opened",
        "user": user,
        "channel": "D" + user[1:],
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }
    response = await slack_request.send_event(event, event_id=f"Ev{user}{before}")
    assert response.status == 200
    calls = await slack.wait_for_calls("views.publish", before + 1)
    assert calls[before].params["user_id"] == user
    home = slack.home(user)
    assert home is not None
    return home


async def test_it_shows_anna_her_open_tenders_newest_offers_and_budget(
    anna: Broker,
    carla: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Rules T7 (offers marked) and B5 (balance at any time)."""
    reference = await start_tender(slack_request, slack, sessions)
    await start_tender(slack_request, slack, sessions, CARLA, CARLA_START_TEXT)
    async with transaction(sessions) as session:
        await add_offer(
            session,
            BERND_ACTOR,
            reference,
            insurer="Allianz",
            premium=Decimal("1234.50"),
            valid_until=date(2026, 12, 31),
            today=date(2026, 11, 23),
        )
        await post_entry(session, anna.id, 160000, "distribution", "2026")
        await charge_policy(session, anna, "P-7", Decimal("100"), tender_reference=reference)

    home = await open_home(slack, slack_request, ANNA)

    text = all_text(home)
    assert home["type"] == "home"
    assert block_text(home, HOME_HEADER_BLOCK) == "Ausschreibungen – Anna Adler"
    assert "*AS-2026-0001* – Betriebshaftpflicht für Bäckerei Korn GmbH · 1 Angebot" in text
    assert "AS-2026-0001 · 🟢 aus Ausschreibung · *Allianz* – 1.234,50\xa0€" in text
    assert "*Saldo*\\n1.500,00\xa0€" in text
    assert "· Police P-7 · Ausschreibung AS-2026-0001" in text
    assert "AS-2026-0002" not in text
    assert "Clausen" not in text


async def test_it_shows_bernd_all_open_tenders_with_offer_counts(
    anna: Broker,
    carla: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reference = await start_tender(slack_request, slack, sessions)
    await start_tender(slack_request, slack, sessions, CARLA, CARLA_START_TEXT)
    async with transaction(sessions) as session:
        for insurer in ("Allianz", "HDI"):
            await add_offer(
                session,
                BERND_ACTOR,
                reference,
                insurer=insurer,
                premium=Decimal("1000"),
                valid_until=date(2026, 12, 31),
                today=date(2026, 11, 23),
            )

    home = await open_home(slack, slack_request, BERND)

    text = all_text(home)
    assert block_text(home, HOME_HEADER_BLOCK) == "Backoffice – Ausschreibungen"
    assert "*AS-2026-0001* – Betriebshaftpflicht für Bäckerei Korn GmbH · 2 Angebote" in text
    assert "*AS-2026-0002* – Cyberversicherung für Clausen-IT · 0 Angebote" in text


async def test_it_explains_the_home_tab_to_an_unknown_user(
    slack: LocalSlack, slack_request: SignedSender
) -> None:
    home = await open_home(slack, slack_request, STRANGER)
    assert "nicht als Vermittler bei tenderbot eingetragen" in all_text(home)
    assert "AS-" not in all_text(home)


async def test_it_shows_an_empty_home_to_a_new_broker(
    anna: Broker, slack: LocalSlack, slack_request: SignedSender
) -> None:
    text = all_text(await open_home(slack, slack_request, ANNA))
    assert "Keine offenen Ausschreibungen" in text
    assert "Noch keine Angebote." in text
    assert "*Saldo*\\n0,00\xa0€" in text
