from __future__ import annotations

import asyncio
from datetime import date
from decimal import Decimal

import pytest
import time_machine
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.actors import resolve_actor
from store.db import transaction
from store.errors import (
    AccessDenied,
    AlreadyDone,
    InvalidInput,
    NotABroker,
    ReasonRequired,
    RecalculationLocked,
    RiskFrozen,
    TenderClosed,
)
from store.models import Broker, ProductLine, QueueRow, Tender
from store.tender_input import StartTender
from store.tender_queries import (
    TenderLine,
    TenderList,
    expiring_offers,
    get_tender,
    list_tenders,
    offer_overview,
    tender_lines,
)
from store.tenders import (
    add_calculator_offer,
    add_offer,
    close_tender,
    mark_no_offers,
    select_offer,
    start_tender,
)
from tests.conftest import BACKOFFICE_USERS, BERND, BERND_ACTOR
from tests.store.helpers import broker_actor, start_request, started_tender

TODAY = date(2026, 11, 23)


@time_machine.travel("2026-11-23 10:00:00+01:00", tick=False)
async def test_it_starts_a_tender_with_reference_and_frozen_risk(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rules T1, T4
    tender = await started_tender(sessions, anna)
    assert tender.reference == "AS-2026-0001"
    assert tender.status == "open"
    assert tender.risk == {
        "deductible": "500",
        "prior_claims": "keine in den letzten 5 Jahren",
        "description": "Backstube mit Laden, 12 Mitarbeitende",
    }
    second = await started_tender(sessions, anna, customer_name="Metzgerei Wurst")
    assert second.reference == "AS-2026-0002"


async def test_it_numbers_references_per_year(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    with time_machine.travel("2026-12-31 23:00:00+00:00", tick=False):
        last_of_year = await started_tender(sessions, anna)
    with time_machine.travel("2027-01-01 09:00:00+01:00", tick=False):
        first_of_year = await started_tender(sessions, anna, customer_name="Neukunde")
    assert last_of_year.reference == "AS-2026-0001"
    assert first_of_year.reference == "AS-2027-0001"


@pytest.mark.postgres_only
async def test_it_hands_out_unique_sequential_references_under_concurrent_starts(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule T4 on PostgreSQL: twenty brokers' clicks at once never share a number.
    starts = [started_tender(sessions, anna, customer_name=f"Kunde {index}") for index in range(20)]
    tenders = await asyncio.gather(*starts)
    numbers = sorted(int(t.reference.rsplit("-", 1)[1]) for t in tenders)
    assert numbers == list(range(1, 21))


async def test_it_refuses_any_change_to_the_risk_after_start(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule T3: there is no update path; an attempt through the ORM fails and changes nothing.
    tender = await started_tender(sessions, anna)
    with pytest.raises(RiskFrozen) as refused:
        async with transaction(sessions) as session:
            loaded = await session.get(Tender, tender.id)
            assert loaded is not None
            loaded.risk = {**loaded.risk, "deductible": "0"}
    assert "nicht mehr geändert" in refused.value.message_de
    async with transaction(sessions) as session:
        reloaded = await session.get(Tender, tender.id)
        assert reloaded is not None
        assert reloaded.risk["deductible"] == "500"


async def test_it_requires_a_reason_when_calculator_offers_exist(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule T2
    async with transaction(sessions) as session:
        first = await start_tender(session, broker_actor(anna), start_request(product="cyber"))
        await mark_no_offers(session, BERND_ACTOR, first.reference)
    async with transaction(sessions) as session:
        line = await session.get(ProductLine, first.product_line_id)
        assert line is not None
        line_id = line.id
    # a fresh line of the same consultation with a calculator offer
    async with transaction(sessions) as session:
        fresh = ProductLine(consultation_id=line.consultation_id, product="haftpflicht")
        session.add(fresh)
        await session.flush()
        await add_calculator_offer(session, fresh, "Tarif AG", Decimal("980.00"), TODAY)
        fresh_id = fresh.id
    with pytest.raises(ReasonRequired):
        async with transaction(sessions) as session:
            await start_tender(session, broker_actor(anna), start_request(product_line_id=fresh_id))
    async with transaction(sessions) as session:
        tender = await start_tender(
            session,
            broker_actor(anna),
            start_request(
                product_line_id=fresh_id, reason="Kunde wünscht Vergleich mit Spezialversicherern"
            ),
        )
    assert tender.reason == "Kunde wünscht Vergleich mit Spezialversicherern"
    assert line_id != fresh_id


async def test_it_locks_recalculation_of_calculator_offers_once_tendered(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule T6
    tender = await started_tender(sessions, anna)
    with pytest.raises(RecalculationLocked) as refused:
        async with transaction(sessions) as session:
            line = await session.get(ProductLine, tender.product_line_id)
            assert line is not None
            await add_calculator_offer(session, line, "Tarif AG", Decimal("1000"), TODAY)
    assert "neue Sparte" in refused.value.message_de


@time_machine.travel("2026-11-23 10:00:00+01:00", tick=False)
async def test_it_adds_tender_offers_marked_apart_and_notifies_the_broker(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rules T7 and N1
    tender = await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        await add_offer(
            session,
            BERND_ACTOR,
            tender.reference,
            insurer="Rheinland Versicherung",
            premium=Decimal("1234.50"),
            valid_until=date(2026, 12, 31),
            today=TODAY,
        )
    async with transaction(sessions) as session:
        overview = await offer_overview(session, broker_actor(anna), tender.reference)
        rows = list(
            await session.scalars(
                select(QueueRow).where(QueueRow.kind.in_(("email", "slack"))).order_by(QueueRow.id)
            )
        )
    assert [(o.source, o.insurer, o.premium_cents) for o in overview.from_tender] == [
        ("tender", "Rheinland Versicherung", 123450)
    ]
    assert overview.calculator == []
    assert [(r.kind, r.recipient, r.template) for r in rows] == [
        ("email", "anna@makler-adler.example", "offer_available"),
        ("email", "assistenz@makler-adler.example", "offer_available"),
        ("slack", "U0ANNA", "offer_available"),
    ]
    assert rows[0].context["premium"] == "1234.5"
    assert rows[0].context["reference"] == "AS-2026-0001"


async def test_it_lets_only_the_backoffice_add_offers(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    tender = await started_tender(sessions, anna)
    with pytest.raises(AccessDenied):
        async with transaction(sessions) as session:
            await add_offer(
                session,
                broker_actor(anna),
                tender.reference,
                insurer="Selbst AG",
                premium=Decimal("1"),
                valid_until=TODAY,
                today=TODAY,
            )


async def test_it_lets_the_broker_select_an_offer_and_closes_the_tender(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule T8
    tender = await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        offer = await add_offer(
            session,
            BERND_ACTOR,
            tender.reference,
            insurer="Nord AG",
            premium=Decimal("900"),
            valid_until=date(2026, 12, 1),
            today=TODAY,
        )
    async with transaction(sessions) as session:
        selected = await select_offer(
            session, broker_actor(anna), tender.reference, offer.id, today=TODAY
        )
    assert (selected.status, selected.selected_offer_id) == ("selected", offer.id)
    assert selected.closed_at is not None
    with pytest.raises(TenderClosed):
        async with transaction(sessions) as session:
            await select_offer(session, broker_actor(anna), tender.reference, offer.id, today=TODAY)


async def test_it_refuses_to_select_an_expired_offer_with_the_t10_advice(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule T10
    tender = await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        offer = await add_offer(
            session,
            BERND_ACTOR,
            tender.reference,
            insurer="Süd AG",
            premium=Decimal("900"),
            valid_until=date(2026, 11, 30),
            today=TODAY,
        )
    with pytest.raises(InvalidInput) as refused:
        async with transaction(sessions) as session:
            await select_offer(
                session, broker_actor(anna), tender.reference, offer.id, today=date(2026, 12, 1)
            )
    assert "Nachrichtenmodul" in refused.value.message_de


async def test_it_allows_a_new_tender_with_adjusted_risk_after_no_offers(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule T9
    tender = await started_tender(sessions, anna)
    with pytest.raises(AlreadyDone):
        await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        marked = await mark_no_offers(session, BERND_ACTOR, tender.reference)
    assert marked.status == "no_offers"
    retry = await started_tender(
        sessions,
        anna,
        previous_reference=tender.reference,
        product_line_id=tender.product_line_id,
        risk={"deductible": "2500", "prior_claims": "keine", "description": "angepasst"},
    )
    assert retry.previous_tender_id == tender.id
    assert retry.risk["deductible"] == "2500"


async def test_it_lists_offers_that_expire_soon_on_open_tenders(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule T10
    tender = await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        for insurer, day in (("Bald AG", 25), ("Später AG", 30)):
            await add_offer(
                session,
                BERND_ACTOR,
                tender.reference,
                insurer=insurer,
                premium=Decimal("500"),
                valid_until=date(2026, 11, day),
                today=TODAY,
            )
    async with transaction(sessions) as session:
        soon = await expiring_offers(session, TODAY, within_days=3)
    assert [offer.insurer for offer in soon] == ["Bald AG"]


async def test_it_keeps_brokers_to_their_own_tenders(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, carla: Broker
) -> None:
    tender = await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        with pytest.raises(AccessDenied) as refused:
            await get_tender(session, broker_actor(carla), tender.reference)
    assert "gehört nicht" in refused.value.message_de


async def test_it_answers_unknown_and_foreign_references_alike_for_brokers(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, carla: Broker
) -> None:
    # A broker must not learn which references exist.
    tender = await started_tender(sessions, anna)
    messages = []
    for reference in (tender.reference, "AS-2026-9999"):
        with pytest.raises(AccessDenied) as refused:
            async with transaction(sessions) as session:
                await get_tender(session, broker_actor(carla), reference)
        messages.append(refused.value.message_de)
    assert messages[0] == messages[1]


async def test_it_shows_brokers_their_tenders_and_the_backoffice_all(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, carla: Broker
) -> None:
    annas = await started_tender(sessions, anna)
    carlas = await started_tender(sessions, carla)
    async with transaction(sessions) as session:
        seen_by_anna = await list_tenders(session, broker_actor(anna))
        seen_by_bernd = await list_tenders(session, BERND_ACTOR)
    assert [t.reference for t in seen_by_anna] == [annas.reference]
    assert {t.reference for t in seen_by_bernd} == {annas.reference, carlas.reference}


async def test_it_lists_in_one_read_what_each_person_may_see(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, carla: Broker
) -> None:
    """Anna her own tenders, newest first; Carla, who started none, an empty list; Bernd
    every open one; a stranger is told that they are no broker."""
    first = await started_tender(sessions, anna)
    second = await started_tender(sessions, anna, product="cyber")
    async with transaction(sessions) as session:
        await close_tender(session, BERND_ACTOR, first.reference)
    second_line = TenderLine(second.reference, "cyber", second.customer_name, "open")

    assert await tender_lines(sessions, anna.slack_user_id, BACKOFFICE_USERS) == TenderList(
        False,
        [second_line, TenderLine(first.reference, "haftpflicht", first.customer_name, "closed")],
    )
    assert await tender_lines(sessions, carla.slack_user_id, BACKOFFICE_USERS) == TenderList(
        False, []
    )
    assert await tender_lines(sessions, BERND, BACKOFFICE_USERS) == TenderList(True, [second_line])
    with pytest.raises(NotABroker):
        await tender_lines(sessions, "U0STRANGER", BACKOFFICE_USERS)


async def test_it_tells_unknown_slack_users_they_are_not_brokers(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    async with transaction(sessions) as session:
        bernd = await resolve_actor(session, BERND, BACKOFFICE_USERS)
        found = await resolve_actor(session, "U0ANNA", BACKOFFICE_USERS)
        with pytest.raises(NotABroker):
            await resolve_actor(session, "U0STRANGER", BACKOFFICE_USERS)
    assert bernd.is_backoffice
    assert found.broker_id == anna.id


def test_it_refuses_unknown_products_and_missing_risk_fields() -> None:
    with pytest.raises(ValidationError) as unknown:
        StartTender.model_validate(
            {
                "product": "raumfahrt",
                "customer_name": "X",
                "risk": {"prior_claims": "k", "description": "d"},
            }
        )
    assert [problem["loc"] for problem in unknown.value.errors()] == [("product",)]
    with pytest.raises(ValidationError) as missing:
        StartTender.model_validate(
            {
                "product": "sach",
                "customer_name": "X",
                "risk": {"prior_claims": "k", "description": ""},
            }
        )
    assert [problem["loc"] for problem in missing.value.errors()] == [("risk", "description")]


async def test_it_leaves_nothing_behind_when_a_start_fails(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    await started_tender(sessions, anna)
    with pytest.raises(AlreadyDone):
        await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        count = len(list(await session.scalars(select(Tender))))
    assert count == 1
