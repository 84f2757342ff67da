"""The shortened write path of a thread message: checks before writes, stored with its
queue row, the N2 rows in one statement, SQLite writers taking turns (rules M2, M5, N2)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import time_machine
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import take_write_turn, transaction
from store.errors import AccessDenied, ConversationNotOpen, NotFound
from store.events import claim_event
from store.mirroring import Refused, Stored, check_in_thread
from store.models import Broker, Message, ProcessedEvent, QueueRow, ThreadLink
from store.outbox import enqueue, enqueue_for_broker
from store.tender_queries import get_tender_without_offers
from store.thread_delivery import delivery_job
from store.threads import Place
from tests.conftest import BACKOFFICE_CHANNEL, BACKOFFICE_USERS, BERND, BERND_ACTOR, ON_POSTGRES
from tests.store.helpers import broker_actor
from tests.threads.conftest import (
    ANNA_DM,
    BACKOFFICE_CARD_TS,
    BROKER_CARD_TS,
    Threads,
    write,
    written,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
sqlite_only = pytest.mark.skipif(ON_POSTGRES, reason="SQLite's single write lock")


async def _count(sessions: async_sessionmaker[AsyncSession], model: type[object]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_it_queues_bernds_query_notice_once_per_recipient_of_anna(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule N2: Anna's address, her assistant on CC and her Slack DM; a repeat changes nothing
    context = {"reference": "AS-2026-0001", "body": "Vorschäden?"}
    async with transaction(sessions) as session:
        first = await enqueue_for_broker(session, anna, "query", context, dedupe_key="query:1")
        again = await enqueue_for_broker(session, anna, "query", context, dedupe_key="query:1")
    assert len(first) == 3 and first == sorted(first)
    assert again == []
    async with sessions() as session:
        rows = list(
            await session.scalars(
                select(QueueRow).where(QueueRow.kind.in_(("email", "slack"))).order_by(QueueRow.id)
            )
        )
    assert [(row.kind, row.recipient) for row in rows] == [
        ("email", "anna@makler-adler.example"),
        ("email", "assistenz@makler-adler.example"),
        ("slack", "U0ANNA"),
    ]
    assert {row.context["broker_name"] for row in rows} == {"Anna Adler"}


async def test_it_skips_only_the_recipient_already_queued_under_the_same_key(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    async with transaction(sessions) as session:
        cc_first = await enqueue(
            session,
            channel="email",
            recipient="assistenz@makler-adler.example",
            template="query",
            context={},
            dedupe_key="query:7:email:assistenz@makler-adler.example",
        )
        ids = await enqueue_for_broker(session, anna, "query", {}, dedupe_key="query:7")
    assert cc_first is not None and cc_first not in ids
    assert len(ids) == 2
    assert await _count(sessions, QueueRow) == 3


async def test_it_queues_nothing_for_a_broker_who_switched_every_channel_off(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    async with transaction(sessions) as session:
        quiet = await session.get(Broker, anna.id)
        assert quiet is not None
        quiet.notify_email = False
        quiet.notify_slack = False
        assert await enqueue_for_broker(session, quiet, "query", {}, dedupe_key="q:1") == []
    assert await _count(sessions, QueueRow) == 0


async def test_it_looks_up_a_tender_without_its_offers_with_the_same_refusals(
    sessions: async_sessionmaker[AsyncSession], threads: Threads, anna: Broker, carla: Broker
) -> None:
    reference = threads.tender.reference
    async with sessions() as session:
        tender = await get_tender_without_offers(session, broker_actor(anna), reference.lower())
        assert tender.id == threads.tender.id
        assert tender.product_line.product == "haftpflicht"
        with pytest.raises(AccessDenied):
            await get_tender_without_offers(session, broker_actor(carla), reference)
        with pytest.raises(NotFound):
            await get_tender_without_offers(session, BERND_ACTOR, "AS-2026-9999")


async def test_it_checks_a_refused_message_without_writing_anything(
    sessions: async_sessionmaker[AsyncSession], threads: Threads, anna: Broker
) -> None:
    # rule M2: Anna may not open the module; asked before her files would be loaded
    checked = await check_in_thread(
        sessions, written(threads.broker, anna.slack_user_id, "Hallo", "17670.2"), BACKOFFICE_USERS
    )
    assert isinstance(checked, Refused) and checked.code == ConversationNotOpen.code
    assert await _count(sessions, Message) == 0
    assert await _count(sessions, ProcessedEvent) == 0


async def test_it_claims_a_refused_message_once_so_slacks_retry_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], threads: Threads, anna: Broker
) -> None:
    # rule M2: refused, and the retry of the same event is not refused a second time
    first = await write(sessions, threads.broker, anna.slack_user_id, "Hallo", "17670.2")
    again = await write(sessions, threads.broker, anna.slack_user_id, "Hallo", "17670.2")
    assert isinstance(first, Refused) and again is None
    assert await _count(sessions, Message) == 0
    assert await _count(sessions, ProcessedEvent) == 1


async def test_it_stores_bernds_message_once_when_slack_retries_the_event(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    first = await write(sessions, threads.backoffice, BERND, "Vorschäden?", "17670.1")
    again = await write(sessions, threads.backoffice, BERND, "Vorschäden?", "17670.1")
    assert isinstance(first, Stored) and again is None
    assert await _count(sessions, Message) == 1


async def test_it_ignores_a_thread_that_is_not_under_a_tender_card(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    elsewhere = ThreadLink(channel=BACKOFFICE_CHANNEL, ts="1767999999.000001")
    assert await write(sessions, elsewhere, BERND, "Hallo", "17670.3") is None
    assert await _count(sessions, ProcessedEvent) == 0


@time_machine.travel(NOW, tick=False)
async def test_it_stores_bernds_reply_with_its_queue_row_for_the_delivery_after_the_commit(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    stored = await write(sessions, threads.backoffice, BERND, "Vorschäden?", "1767000001.1")
    assert isinstance(stored, Stored)
    [row_id] = stored.rows
    async with sessions() as session:
        row = await session.get(QueueRow, row_id)
        assert row is not None
        job = await delivery_job(session, int(row.context["message_id"]))
    assert (row.kind, row.status, row.next_attempt_at) == ("thread", "pending", NOW)
    assert (job.body, job.origin, job.target) == (
        "Vorschäden?",
        Place(BACKOFFICE_CHANNEL, BACKOFFICE_CARD_TS),
        Place(ANNA_DM, BROKER_CARD_TS),
    )


async def test_it_leaves_an_internal_note_of_bernd_undelivered_and_unqueued(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    # rule M5: an internal note stays in the backoffice thread
    stored = await write(sessions, threads.backoffice, BERND, "intern: zahlt spät", "17670.1")
    assert isinstance(stored, Stored) and stored.rows == ()
    async with sessions() as session:
        note = await session.scalar(select(Message))
    assert note is not None
    assert note.delivery_state == "not_needed"
    assert await _count(sessions, QueueRow) == 0


async def _yield_to_others() -> None:
    for _ in range(20):
        await asyncio.sleep(0)


@sqlite_only
async def test_it_lets_sqlite_writers_wait_in_line_until_the_turn_is_passed_on(
    sessions: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A writer that waited for a turn it already held would give up and log after this.
    monkeypatch.setattr("store.db.WRITE_TURN_TIMEOUT", 1.0)
    order: list[str] = []
    first_holds = asyncio.Event()
    first_may_commit = asyncio.Event()

    async def first() -> None:
        async with transaction(sessions) as session:
            await take_write_turn(session)
            await take_write_turn(session)  # a second call in the same transaction: no-op
            await claim_event(session, "Ev1")
            first_holds.set()
            await first_may_commit.wait()
            order.append("first commits")

    async def second() -> None:
        await first_holds.wait()
        async with transaction(sessions) as session:
            await take_write_turn(session)
            order.append("second writes")
            await claim_event(session, "Ev2")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await first_holds.wait()
    await _yield_to_others()
    assert order == []
    first_may_commit.set()
    await asyncio.gather(*tasks)
    assert order == ["first commits", "second writes"]
    assert await _count(sessions, ProcessedEvent) == 2
    assert "no SQLite write turn" not in caplog.text


@sqlite_only
async def test_it_passes_the_turn_on_when_a_writer_rolls_back(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as session:
            await take_write_turn(session)
            await claim_event(session, "Ev1")
            raise RuntimeError("crash mid-handling")
    acquired = asyncio.Event()

    async def next_writer() -> None:
        async with transaction(sessions) as session:
            await take_write_turn(session)
            acquired.set()
            assert await claim_event(session, "Ev1")  # the rolled-back claim went with it

    task = asyncio.create_task(next_writer())
    await _yield_to_others()
    assert acquired.is_set()
    await task


async def test_it_lets_bernds_next_message_follow_the_one_still_on_its_way(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    # rule M3: the thread shows them in the order written; the writer hears of a delay
    # only when an earlier one could not be shown
    first = await write(sessions, threads.backoffice, BERND, "Vorschäden?", "17670.1")
    second = await write(sessions, threads.backoffice, BERND, "Baujahr?", "17670.2")
    assert isinstance(first, Stored) and isinstance(second, Stored)
    assert (first.behind, second.behind, second.behind_failed) == (0, 1, False)
    async with transaction(sessions) as session:
        await session.execute(
            update(QueueRow).where(QueueRow.id == first.rows[0]).values(last_error="Slack 503")
        )
    third = await write(sessions, threads.backoffice, BERND, "Umsatz?", "17670.3")
    assert isinstance(third, Stored) and (third.behind, third.behind_failed) == (2, True)
    # Anna's side has a thread of its own: nothing waits before her answer.
    answer = await write(sessions, threads.broker, "U0ANNA", "Keine.", "17670.4")
    assert isinstance(answer, Stored) and answer.behind == 0
