"""Backoffice follow-up (rule T9): tenders without an offer after 5 working days."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.scheduler import run_backoffice_followup
from bot.settings import Settings
from store.db import transaction
from store.models import Broker
from store.reminders import workdays_since
from store.tenders import add_offer, mark_no_offers
from tests.conftest import BACKOFFICE_CHANNEL, BERND_ACTOR
from tests.scheduler.conftest import berlin, outbox, tender_with_offer


def test_it_counts_only_monday_to_friday() -> None:
    monday, friday = date(2026, 3, 2), date(2026, 3, 6)
    assert workdays_since(monday, monday) == 0
    assert workdays_since(monday, friday) == 4
    assert workdays_since(monday, date(2026, 3, 9)) == 5
    assert workdays_since(friday, date(2026, 3, 9)) == 1  # over the weekend
    assert workdays_since(date(2026, 3, 7), date(2026, 3, 13)) == 5  # started on a Saturday
    assert workdays_since(monday, date(2026, 3, 30)) == 20


async def test_it_lists_a_tender_without_offer_after_five_working_days_once_a_day(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, anna: Broker, carla: Broker
) -> None:
    anna_tender, _ = await tender_with_offer(
        sessions, anna, started=berlin(2026, 3, 2, 10), valid_until=None
    )
    carla_tender, _ = await tender_with_offer(
        sessions,
        carla,
        started=berlin(2026, 3, 6, 16),
        valid_until=None,
        customer_name="Schreinerei Holz",
    )

    listed: dict[date, list[str]] = {}
    for moment in [
        berlin(2026, 3, 6),  # Friday: 4 working days
        berlin(2026, 3, 7),  # weekend: no post at all
        berlin(2026, 3, 8),
        berlin(2026, 3, 9),  # Monday: Anna's tender is due
        berlin(2026, 3, 9, 15),  # again the same day
        berlin(2026, 3, 13),  # Friday: Carla's is due too
    ]:
        result = await run_backoffice_followup(settings, sessions, now=moment)
        if result.queued:
            listed[moment.date()] = result.references

    assert listed == {
        date(2026, 3, 9): [anna_tender.reference],
        date(2026, 3, 13): [anna_tender.reference, carla_tender.reference],
    }
    rows = await outbox(sessions, "backoffice_followup")
    assert [(row.kind, row.recipient, row.dedupe_key) for row in rows] == [
        ("slack", BACKOFFICE_CHANNEL, "followup:2026-03-09"),
        ("slack", BACKOFFICE_CHANNEL, "followup:2026-03-13"),
    ]
    assert rows[0].context["tenders"] == [
        {
            "reference": anna_tender.reference,
            "customer_name": "Bäckerei Korn GmbH",
            "product": "haftpflicht",
            "product_label": "Betriebshaftpflicht",
            "broker_name": "Anna Adler",
            "broker_number": "4711",
            "started_on": "2026-03-02",
            "workdays_without_offer": 5,
        }
    ]


async def test_it_stops_listing_once_an_offer_arrived_or_the_tender_ended(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, anna: Broker, carla: Broker
) -> None:
    anna_tender, _ = await tender_with_offer(
        sessions, anna, started=berlin(2026, 3, 2, 10), valid_until=None
    )
    carla_tender, _ = await tender_with_offer(
        sessions, carla, started=berlin(2026, 3, 2, 10), valid_until=None, customer_name="Holz"
    )
    first = await run_backoffice_followup(settings, sessions, now=berlin(2026, 3, 9))
    async with transaction(sessions) as session:
        await add_offer(
            session,
            BERND_ACTOR,
            anna_tender.reference,
            insurer="HDI",
            premium=Decimal("800"),
            valid_until=date(2026, 4, 30),
            today=date(2026, 3, 9),
        )
        await mark_no_offers(session, BERND_ACTOR, carla_tender.reference)

    second = await run_backoffice_followup(settings, sessions, now=berlin(2026, 3, 10))

    assert first.references == [anna_tender.reference, carla_tender.reference]
    assert (second.references, second.queued) == ([], False)
    assert len(await outbox(sessions, "backoffice_followup")) == 1


async def test_it_uses_the_berlin_date_of_the_start(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, anna: Broker
) -> None:
    """Started Monday 00:30 in Berlin (still Sunday in UTC): due the next Monday, not earlier."""
    tender, _ = await tender_with_offer(
        sessions, anna, started=berlin(2026, 3, 2, 0, 30), valid_until=None
    )
    friday = await run_backoffice_followup(settings, sessions, now=berlin(2026, 3, 6, 23, 59))
    monday = await run_backoffice_followup(settings, sessions, now=berlin(2026, 3, 9, 0, 1))
    assert friday.references == []
    assert monday.references == [tender.reference]
