"""POST /platform/events: signed requests against the real serve app (P3, B4, T2, T6)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.app import create_app
from bot.http import build_web_app, start_web_app
from bot.localslack import LocalSlack
from bot.localslack.running import local_settings
from pricing import answer_query
from store.db import make_engine, make_sessionmaker, transaction
from store.models import Broker, BudgetAccount, LedgerEntry, Offer, PlatformEvent, QueueRow
from tests.conftest import ON_POSTGRES
from tests.platform.conftest import (
    PLATFORM_SECRET,
    PlatformClient,
    credit,
    event_bytes,
)
from tests.store.helpers import started_tender

ISSUED = "policy.issued"


def issued(policy: str, amount: str, **extra: str) -> dict[str, str]:
    return {"broker_number": "4711", "policy_number": policy, "konzeptrabatt": amount, **extra}


async def ledger(sessions: async_sessionmaker[AsyncSession], broker: Broker) -> list[LedgerEntry]:
    async with sessions() as session:
        rows = await session.scalars(
            select(LedgerEntry).where(LedgerEntry.broker_id == broker.id).order_by(LedgerEntry.id)
        )
        return list(rows)


async def balance(sessions: async_sessionmaker[AsyncSession], broker: Broker) -> int:
    async with sessions() as session:
        account = await session.get(BudgetAccount, broker.id)
        assert account is not None
        return account.balance_cents


async def test_it_charges_the_konzeptrabatt_of_an_issued_policy(
    platform: PlatformClient, sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule P3; the broker gets a DM and e-mails with the new balance.
    await credit(sessions, anna, 40000)
    tender = await started_tender(sessions, anna)

    answer = await platform.send(
        "evt-1", ISSUED, issued("P-100", "250,00", tender_reference=tender.reference)
    )

    assert answer.status == 200
    assert answer.body["status"] == "booked"
    assert answer.body["balance"] == "150.00"
    assert answer.body["available"] == "150.00"
    assert answer.body["konzeptrabatt"] == "250.00"
    entries = await ledger(sessions, anna)
    assert [(e.kind, e.amount_cents, e.reference, e.tender_reference) for e in entries[1:]] == [
        ("charge", -25000, "P-100", tender.reference)
    ]
    async with sessions() as session:
        notices = list(
            await session.scalars(
                select(QueueRow).where(QueueRow.template == "budget_booking").order_by(QueueRow.id)
            )
        )
    assert sorted((row.kind, row.recipient) for row in notices) == [
        ("email", "anna@makler-adler.example"),
        ("email", "assistenz@makler-adler.example"),
        ("slack", "U0ANNA"),
    ]
    assert notices[0].context["balance"] == "150.00"
    assert notices[0].context["policy_number"] == "P-100"
    assert notices[0].context["tender_reference"] == tender.reference


async def test_it_refuses_a_charge_the_account_cannot_cover_in_the_words_of_rabatt(
    platform: PlatformClient, sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule P3: not covered → 409, nothing booked; the same German text as /rabatt konzept.
    await credit(sessions, anna, 10000)

    answer = await platform.send("evt-2", ISSUED, issued("P-200", "150.00"))

    assert answer.status == 409
    assert answer.body["code"] == "not_covered"
    assert answer.body["balance"] == "100.00"
    assert answer.body["available"] == "100.00"
    rabatt = answer_query(
        "konzept betrag=150 geschaeft=neu",
        konzept_balance=Decimal("100.00"),
        konzept_credit=Decimal("0.00"),
    )
    assert answer.body["message"] == rabatt.reasons[0].text
    assert "nicht policiert" in answer.body["message"]
    assert await balance(sessions, anna) == 10000
    assert len(await ledger(sessions, anna)) == 1


async def test_it_lets_a_granted_credit_cover_a_charge_and_audits_the_credit(
    platform: PlatformClient, sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    await credit(sessions, anna, 10000)

    granted = await platform.send(
        "evt-3", "broker.credit_limit", {"broker_number": "4711", "amount": "100.00"}
    )
    charged = await platform.send("evt-4", ISSUED, issued("P-300", "150.00"))

    assert granted.status == 200
    assert granted.body["credit_limit"] == "100.00"
    assert granted.body["available"] == "200.00"
    assert charged.status == 200
    assert charged.body["balance"] == "-50.00"
    audit = [e for e in await ledger(sessions, anna) if e.kind == "credit"]
    assert [(e.amount_cents, e.reference) for e in audit] == [(0, "evt-3")]
    assert audit[0].note is not None and "100,00\xa0€" in audit[0].note


async def test_it_credits_a_storno_from_inception_back_once(
    platform: PlatformClient, sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule B4
    await credit(sessions, anna, 40000)
    await platform.send("evt-5", ISSUED, issued("P-400", "100.00"))

    later = await platform.send(
        "evt-6", "policy.cancelled", {"policy_number": "P-400", "from_inception": False}
    )
    storno = await platform.send(
        "evt-7", "policy.cancelled", {"policy_number": "P-400", "from_inception": True}
    )
    again = await platform.send(
        "evt-8", "policy.cancelled", {"policy_number": "P-400", "from_inception": True}
    )

    assert (later.status, later.body["status"]) == (200, "recorded")
    assert "nicht gutgeschrieben" in later.body["message"]
    assert (storno.status, storno.body["status"]) == (200, "booked")
    assert storno.body["credited"] == "100.00"
    assert storno.body["balance"] == "400.00"
    assert (again.status, again.body["code"]) == (409, "already_credited")
    assert [e.kind for e in await ledger(sessions, anna)] == ["distribution", "charge", "storno"]


async def test_it_answers_a_repeated_event_from_the_first_answer_with_one_effect(
    platform: PlatformClient, sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    await credit(sessions, anna, 40000)
    body = event_bytes("evt-9", ISSUED, issued("P-500", "50.00"))

    first = await platform.post_raw(body)
    second = await platform.post_raw(body)

    assert first.body["status"] == "booked"
    assert second.status == 200
    assert second.body["status"] == "duplicate"
    assert second.body["first_status"] == "booked"
    assert second.body["balance"] == first.body["balance"] == "350.00"
    assert await balance(sessions, anna) == 35000


async def test_it_repeats_a_refusal_for_the_same_event(
    platform: PlatformClient, sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    body = event_bytes("evt-10", ISSUED, issued("P-600", "50.00"))
    first = await platform.post_raw(body)
    await credit(sessions, anna, 40000)

    second = await platform.post_raw(body)

    assert first.status == second.status == 409
    assert second.body["code"] == "not_covered"
    assert second.body["duplicate"] is True
    assert await balance(sessions, anna) == 40000


async def test_it_refuses_forged_and_stale_signatures_without_effect(
    platform: PlatformClient, sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    await credit(sessions, anna, 40000)
    body = event_bytes("evt-11", ISSUED, issued("P-700", "50.00"))

    forged = await platform.post_raw(body, signature="v1=" + "0" * 64)
    stale = await platform.post_raw(body, timestamp=int(time.time()) - 301)
    other_secret = PlatformClient(platform.url, "not-the-secret")
    try:
        wrong_key = await other_secret.post_raw(body)
    finally:
        await other_secret.http.close()

    assert forged.status == stale.status == wrong_key.status == 401
    assert await balance(sessions, anna) == 40000
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(PlatformEvent)) == 0


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"broker_number": "4711", "policy_number": "P-1"}, "data.konzeptrabatt", "fehlt"),
        (issued("P-1", "zwei Euro"), "data.konzeptrabatt", "kein Betrag"),
        (issued("P-1", "-5.00"), "data.konzeptrabatt", "nicht negativ"),
        ({**issued("P-1", "5.00"), "broker_number": "9999"}, "data.broker_number", "nicht bekannt"),
        ({**issued("P-1", "5.00"), "colour": "blau"}, "data.colour", "kein Feld"),
    ],
)
async def test_it_answers_422_for_a_body_that_does_not_validate(
    platform: PlatformClient,
    anna: Broker,
    data: dict[str, str],
    field: str,
    words: str,
) -> None:
    answer = await platform.send("evt-12", ISSUED, data)

    assert answer.status == 422
    assert answer.body["errors"][0]["field"] == field
    assert words in answer.body["errors"][0]["message"]


async def test_it_answers_422_not_500_for_broken_json_and_unknown_types(
    platform: PlatformClient,
) -> None:
    broken = await platform.post_raw(b"{not json")
    unknown = await platform.send("evt-13", "policy.renamed", {})
    listed = await platform.post_raw(b"[1, 2]")

    assert (broken.status, broken.body["errors"][0]["field"]) == (422, "body")
    assert (unknown.status, unknown.body["errors"][0]["field"]) == (422, "type")
    assert (listed.status, listed.body["errors"][0]["field"]) == (422, "body")


async def test_it_adds_recalculates_and_locks_calculator_offers(
    platform: PlatformClient, sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rules T2, T6
    offer = {
        "consultation_id": "B-77",
        "sparte": "haftpflicht",
        "insurer": "Rheinland Versicherung",
        "premium": "1.234,50",
        "valid_until": "2027-03-31",
        "offer_id": "TR-1",
        "broker_number": "4711",
        "customer_name": "Bäckerei Korn GmbH",
    }
    added = await platform.send("evt-20", "calculator.offer", offer)
    recalculated = await platform.send("evt-21", "calculator.offer", {**offer, "premium": "1200"})
    await started_tender(sessions, anna, consultation="B-77", reason="Deckung zu schmal")
    locked = await platform.send("evt-22", "calculator.offer", {**offer, "premium": "1100"})
    opened = await platform.send(
        "evt-23", "calculator.offer", {**offer, "premium": "1100", "new_line": True}
    )

    assert (added.status, added.body["recalculated"]) == (200, False)
    assert (recalculated.status, recalculated.body["recalculated"]) == (200, True)
    assert locked.status == 409
    assert locked.body["code"] == "line_locked"
    assert locked.body["way_out"] == {"new_line": True}
    assert "neue Sparte" in locked.body["message"]
    assert (opened.status, opened.body["new_line"]) == (200, True)
    assert opened.body["product_line"] != added.body["product_line"]
    async with sessions() as session:
        premiums = [
            (o.product_line_id == added.body["product_line"], o.premium_cents)
            for o in await session.scalars(select(Offer).order_by(Offer.id))
        ]
    assert premiums == [(True, 120000), (False, 110000)]


async def test_it_wants_the_broker_for_an_unknown_consultation(
    platform: PlatformClient, anna: Broker
) -> None:
    answer = await platform.send(
        "evt-24",
        "calculator.offer",
        {
            "consultation_id": "B-404",
            "sparte": "sach",
            "insurer": "Rheinland",
            "premium": "100.00",
            "valid_until": "2027-03-31",
            "offer_id": "TR-9",
        },
    )

    assert answer.status == 422
    assert answer.body["errors"][0]["field"] == "data.broker_number"


async def test_it_is_off_without_the_secret(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> None:
    async with LocalSlack() as slack:
        settings = local_settings(slack, database_url)
        app = create_app(settings, sessions)
        runner, port = await start_web_app(build_web_app(settings, sessions, app), "127.0.0.1", 0)
        try:
            client = PlatformClient(f"http://127.0.0.1:{port}/platform/events", "x")
            try:
                async with client.http.post(client.url, data=b"{}") as response:
                    status = response.status
            finally:
                await client.http.close()
        finally:
            await runner.cleanup()
    assert status == 404


# -- PostgreSQL: two replicas, real concurrency --------------------------------------------


@pytest.fixture
async def second_replica(
    database_url: str, search_path: str | None
) -> AsyncIterator[PlatformClient]:
    """Another serve process's app: its own engine and pool on the same database."""
    engine: AsyncEngine = make_engine(database_url, search_path=search_path)
    sessions = make_sessionmaker(engine)
    async with LocalSlack() as slack:
        settings = local_settings(slack, database_url, platform_secret=PLATFORM_SECRET)
        app = create_app(settings, sessions)
        runner, port = await start_web_app(build_web_app(settings, sessions, app), "127.0.0.1", 0)
        client = PlatformClient(f"http://127.0.0.1:{port}/platform/events", PLATFORM_SECRET)
        try:
            yield client
        finally:
            await client.http.close()
            await runner.cleanup()
            await engine.dispose()


@pytest.mark.postgres_only
async def test_it_applies_two_copies_arriving_at_once_on_two_replicas_once(
    platform: PlatformClient,
    second_replica: PlatformClient,
    sessions: async_sessionmaker[AsyncSession],
    anna: Broker,
) -> None:
    assert ON_POSTGRES
    await credit(sessions, anna, 40000)
    for round_ in range(5):
        body = event_bytes(f"evt-twice-{round_}", ISSUED, issued(f"P-T{round_}", "10.00"))
        answers = await asyncio.gather(platform.post_raw(body), second_replica.post_raw(body))
        assert sorted(a.body["status"] for a in answers) == ["booked", "duplicate"]
    assert await balance(sessions, anna) == 40000 - 5 * 1000
    assert len(await ledger(sessions, anna)) == 6


@pytest.mark.postgres_only
async def test_it_books_exactly_ten_of_fifty_concurrent_charges_the_account_covers(
    platform: PlatformClient,
    second_replica: PlatformClient,
    sessions: async_sessionmaker[AsyncSession],
    anna: Broker,
) -> None:
    # rule P3: 50 charges of 100 € race for 1.000 €; two replicas serve them.
    await credit(sessions, anna, 100000)
    clients = (platform, second_replica)

    answers = await asyncio.gather(
        *(
            clients[index % 2].send(f"evt-race-{index}", ISSUED, issued(f"P-R{index}", "100"))
            for index in range(50)
        )
    )

    assert sorted(a.status for a in answers) == [200] * 10 + [409] * 40
    assert {a.body.get("code") for a in answers if a.status == 409} == {"not_covered"}
    async with transaction(sessions) as session:
        ledger_sum = await session.scalar(
            select(func.sum(LedgerEntry.amount_cents)).where(LedgerEntry.broker_id == anna.id)
        )
    assert await balance(sessions, anna) == 0 == ledger_sum
