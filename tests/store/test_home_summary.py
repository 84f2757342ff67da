"""The App Home's data in a fixed number of queries: open tenders, offer counts, newest offers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import Any

import time_machine
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from store.actors import Actor
from store.db import transaction
from store.models import Broker, Consultation, ProductLine, Tender
from store.tender_queries import HomeSummary, home_summary
from store.tenders import add_calculator_offer, add_offer, close_tender, start_tender
from tests.conftest import BERND_ACTOR
from tests.store.helpers import broker_actor, start_request, started_tender

TODAY = date(2026, 11, 23)
VALID = date(2026, 12, 31)


async def offer(sessions: async_sessionmaker[AsyncSession], tender: Tender, insurer: str) -> None:
    async with transaction(sessions) as session:
        await add_offer(
            session,
            BERND_ACTOR,
            tender.reference,
            insurer=insurer,
            premium=Decimal("1200.00"),
            valid_until=VALID,
            today=TODAY,
        )


async def tender_after_calculator(
    sessions: async_sessionmaker[AsyncSession], broker: Broker, customer: str
) -> Tender:
    """A tender on a line whose calculator offer came first (T2): it belongs to the overview."""
    async with transaction(sessions) as session:
        consultation = Consultation(broker_id=broker.id, customer_name=customer)
        session.add(consultation)
        await session.flush()
        line = ProductLine(consultation_id=consultation.id, product="haftpflicht")
        session.add(line)
        await session.flush()
        await add_calculator_offer(session, line, "Tarif AG", Decimal("980.00"), VALID)
        return await start_tender(
            session,
            broker_actor(broker),
            start_request(customer_name=customer, product_line_id=line.id, reason="Vergleich"),
        )


async def summary_for(
    sessions: async_sessionmaker[AsyncSession], actor: Actor, limit: int = 20
) -> HomeSummary:
    async with transaction(sessions) as session:
        return await home_summary(session, actor, limit)


def references(summary: HomeSummary) -> list[tuple[str, int]]:
    return [(item.tender.reference, item.offer_count) for item in summary.open_tenders]


def offers(summary: HomeSummary) -> list[tuple[str, str]]:
    return [(reference, offer.insurer) for reference, offer in summary.newest_offers]


@contextmanager
def counted_queries(engine: AsyncEngine) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


@time_machine.travel("2026-11-23 10:00:00+01:00", tick=False)
async def test_it_gives_anna_her_open_tenders_with_counts_and_their_newest_offers(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, carla: Broker
) -> None:
    # rules T2 and T7: calculator offers of the line count as offers, not as tender offers
    bakery = await started_tender(sessions, anna)
    butcher = await tender_after_calculator(sessions, anna, "Metzgerei Wurst")
    closed = await started_tender(sessions, anna, customer_name="Alte Schreinerei")
    carlas = await started_tender(sessions, carla, customer_name="Clausen Logistik")
    await offer(sessions, bakery, "Allianz")
    await offer(sessions, butcher, "HDI")
    await offer(sessions, bakery, "Gothaer")
    await offer(sessions, closed, "Signal Iduna")
    await offer(sessions, carlas, "Zurich")
    async with transaction(sessions) as session:
        await close_tender(session, BERND_ACTOR, closed.reference)

    summary = await summary_for(sessions, broker_actor(anna))

    assert references(summary) == [(butcher.reference, 1), (bakery.reference, 2)]
    assert offers(summary) == [
        (bakery.reference, "Gothaer"),
        (butcher.reference, "HDI"),
        (bakery.reference, "Allianz"),
        (butcher.reference, "Tarif AG"),
    ]


async def test_it_gives_backoffice_bernd_every_open_tender(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, carla: Broker
) -> None:
    annas = await started_tender(sessions, anna)
    carlas = await started_tender(sessions, carla, customer_name="Clausen Logistik")

    summary = await summary_for(sessions, BERND_ACTOR)

    assert references(summary) == [(carlas.reference, 0), (annas.reference, 0)]
    assert summary.newest_offers == []


@time_machine.travel("2026-11-23 10:00:00+01:00", tick=False)
async def test_it_keeps_to_the_limit_for_tenders_and_offers(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    first = await started_tender(sessions, anna)
    second = await started_tender(sessions, anna, customer_name="Metzgerei Wurst")
    for insurer in ("Allianz", "HDI", "Gothaer"):
        await offer(sessions, first, insurer)

    summary = await summary_for(sessions, broker_actor(anna), limit=2)

    assert references(summary) == [(second.reference, 0), (first.reference, 3)]
    assert offers(summary) == [(first.reference, "Gothaer"), (first.reference, "HDI")]


@time_machine.travel("2026-11-23 10:00:00+01:00", tick=False)
async def test_it_reads_the_home_in_three_queries_however_many_tenders_are_open(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    for number in range(6):
        tender = await started_tender(sessions, anna, customer_name=f"Kunde {number}")
        await offer(sessions, tender, "Allianz")

    with counted_queries(engine) as statements:
        summary = await summary_for(sessions, broker_actor(anna))

    assert len(summary.open_tenders) == 6
    assert [s.split()[0] for s in statements if not s.startswith(("BEGIN", "COMMIT"))] == [
        "SELECT",
        "SELECT",
        "SELECT",
    ]


async def test_it_gives_a_new_broker_an_empty_home_in_one_query(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    with counted_queries(engine) as statements:
        summary = await summary_for(sessions, broker_actor(anna))

    assert summary == HomeSummary(open_tenders=[], newest_offers=[])
    assert len([s for s in statements if s.startswith("SELECT")]) == 1
