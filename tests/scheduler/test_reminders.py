"""Offer expiry reminders (rule T10): on the right days, once per offer and lead time."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.scheduler import run_expiry_reminders
from bot.settings import Settings
from notifications.render import render
from store.conversation import post_message
from store.db import transaction
from store.models import Broker
from store.reminders import reached_lead
from store.tenders import select_offer
from tests.conftest import BERND_ACTOR
from tests.scheduler.conftest import berlin, outbox, tender_with_offer
from tests.store.helpers import broker_actor

VALID_UNTIL = date(2026, 3, 10)  # a Tuesday


async def reminded_days(
    sessions: async_sessionmaker[AsyncSession],
) -> list[tuple[int, str, str]]:
    return [
        (row.context["days_left"], row.kind, row.recipient)
        for row in await outbox(sessions, "offer_expiring")
    ]


def test_it_picks_the_most_urgent_lead_time_reached() -> None:
    assert [reached_lead(days, (7, 1)) for days in (9, 8, 7, 5, 2, 1, 0, -1)] == [
        None,
        None,
        7,
        7,
        7,
        1,
        1,
        None,
    ]


async def test_it_reminds_broker_anna_seven_days_and_one_day_before_expiry_once_each(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, anna: Broker
) -> None:
    _tender, offer = await tender_with_offer(
        sessions, anna, started=berlin(2026, 3, 2, 10), valid_until=VALID_UNTIL
    )
    assert offer is not None

    for day, expected_rows in [
        (berlin(2026, 3, 2), 0),  # 8 days left
        (berlin(2026, 3, 3), 3),  # 7 days: mail, CC and Slack DM
        (berlin(2026, 3, 3, 17), 3),  # same day again: nothing new
        (berlin(2026, 3, 5), 3),
        (berlin(2026, 3, 9), 6),  # 1 day left
        (berlin(2026, 3, 10), 6),  # the last day: the 1-day reminder is done
        (berlin(2026, 3, 11), 6),  # expired
    ]:
        await run_expiry_reminders(settings, sessions, now=day)
        assert len(await reminded_days(sessions)) == expected_rows, day

    rows = await outbox(sessions, "offer_expiring")
    assert [row.context["days_left"] for row in rows] == [7, 7, 7, 1, 1, 1]
    assert {row.dedupe_key for row in rows} >= {
        f"expiry:{offer.id}:7:email:anna@makler-adler.example",
        f"expiry:{offer.id}:1:slack:U0ANNA",
    }
    context = rows[0].context
    assert context["reference"].startswith("AS-2026-")
    assert {key: context[key] for key in ("insurer", "premium", "valid_until")} == {
        "insurer": "Allianz",
        "premium": "1234.50",
        "valid_until": "2026-03-10",
    }
    assert context["customer_name"] == "Bäckerei Korn GmbH"
    assert context["product_label"] == "Betriebshaftpflicht"


async def test_it_sends_only_the_one_day_reminder_after_downtime(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, anna: Broker
) -> None:
    await tender_with_offer(sessions, anna, started=berlin(2026, 3, 2, 10), valid_until=VALID_UNTIL)

    await run_expiry_reminders(settings, sessions, now=berlin(2026, 3, 9, 11))

    assert [days for days, _channel, _to in await reminded_days(sessions)] == [1, 1, 1]


async def test_it_does_not_remind_once_anna_selected_an_offer(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, anna: Broker
) -> None:
    tender, offer = await tender_with_offer(
        sessions, anna, started=berlin(2026, 3, 2, 10), valid_until=VALID_UNTIL
    )
    assert offer is not None
    async with transaction(sessions) as session:
        await select_offer(
            session, broker_actor(anna), tender.reference, offer.id, today=date(2026, 3, 2)
        )

    await run_expiry_reminders(settings, sessions, now=berlin(2026, 3, 3))

    assert await reminded_days(sessions) == []


async def test_it_advises_the_message_module_only_once_the_backoffice_opened_it(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, anna: Broker, carla: Broker
) -> None:
    """T10 with M2: without an open message module the start page contacts apply."""
    anna_tender, _ = await tender_with_offer(
        sessions, anna, started=berlin(2026, 3, 2, 10), valid_until=VALID_UNTIL
    )
    await tender_with_offer(
        sessions,
        carla,
        started=berlin(2026, 3, 2, 11),
        valid_until=VALID_UNTIL,
        customer_name="Schreinerei Holz",
    )
    async with transaction(sessions) as session:
        await post_message(session, BERND_ACTOR, anna_tender.reference, "Gibt es Vorschäden?")

    await run_expiry_reminders(settings, sessions, now=berlin(2026, 3, 3))

    advice = {
        row.recipient: (row.context["conversation_open"], row.context["advice"])
        for row in await outbox(sessions, "offer_expiring")
        if row.kind == "slack"
    }
    assert advice["U0ANNA"][0] is True
    assert "Nachrichtenmodul der Ausschreibung " + anna_tender.reference in advice["U0ANNA"][1]
    assert advice["U0CARLA"][0] is False
    assert "Kontaktdaten auf der Startseite" in advice["U0CARLA"][1]


async def test_it_reminds_once_on_the_day_clocks_spring_forward(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, anna: Broker
) -> None:
    """Sunday 29 March 2026, 02:00 → 03:00: 08:00 in Berlin is 06:00 UTC, no longer 07:00."""
    await tender_with_offer(
        sessions, anna, started=berlin(2026, 3, 20, 10), valid_until=date(2026, 3, 30)
    )

    for moment in [
        datetime(2026, 3, 28, 23, 30, tzinfo=UTC),  # already Sunday 00:30 in Berlin
        datetime(2026, 3, 29, 6, 0, tzinfo=UTC),  # the 08:00 run
        datetime(2026, 3, 29, 7, 0, tzinfo=UTC),  # where 08:00 was last week
        datetime(2026, 3, 29, 21, 59, tzinfo=UTC),  # Sunday 23:59 in Berlin
    ]:
        await run_expiry_reminders(settings, sessions, now=moment)

    assert [days for days, _channel, _to in await reminded_days(sessions)] == [1, 1, 1]


async def test_it_reminds_once_on_the_day_clocks_fall_back(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, anna: Broker
) -> None:
    """Sunday 25 October 2026, 03:00 → 02:00: the day has 25 hours, still one reminder."""
    await tender_with_offer(
        sessions, anna, started=berlin(2026, 10, 12, 10), valid_until=date(2026, 11, 1)
    )

    for moment in [
        datetime(2026, 10, 24, 22, 0, tzinfo=UTC),  # Sunday 00:00 CEST
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # 02:30 CEST
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # 02:30 CET, the repeated hour
        datetime(2026, 10, 25, 7, 0, tzinfo=UTC),  # 08:00 CET
        datetime(2026, 10, 25, 22, 59, tzinfo=UTC),  # Sunday 23:59 CET
    ]:
        await run_expiry_reminders(settings, sessions, now=moment)

    assert [days for days, _channel, _to in await reminded_days(sessions)] == [7, 7, 7]


async def test_it_gives_the_configured_contact_where_no_message_module_is_open(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, carla: Broker
) -> None:
    """T10: the start page's contact details (TENDERBOT_CONTACT), rendered into the DM."""
    contact = "Backoffice Sach, 0221 987 654-0"
    await tender_with_offer(
        sessions, carla, started=berlin(2026, 3, 2, 11), valid_until=VALID_UNTIL
    )

    await run_expiry_reminders(
        settings.model_copy(update={"contact": contact}), sessions, now=berlin(2026, 3, 3)
    )

    [row] = [row for row in await outbox(sessions, "offer_expiring") if row.kind == "slack"]
    assert row.context["contact"] == contact
    assert contact in row.context["advice"]
    slack_text = render("offer_expiring", row.context, channel="slack").slack
    assert f"wenden Sie sich bitte an: {contact}" in slack_text
    assert "Thread" not in slack_text
