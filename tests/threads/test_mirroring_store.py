"""Store side of the two mirrored threads: who may write where, and delivery bookkeeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import transaction
from store.errors import AccessDenied, ConversationNotOpen
from store.mirroring import (
    BROKER_THREAD_NOT_YOURS,
    Place,
    delete_in_thread,
    delivery_job,
    edit_in_thread,
    mark_delivered,
    post_from_modal,
    post_in_thread,
    record_mirror_post,
    split_internal,
)
from store.models import Broker, Message, MessageRevision, QueueRow
from store.queue import Outcome, RetryPolicy, claim_due, record
from store.threads import sync_rows_of
from tests.conftest import BEATE_ACTOR, BERND_ACTOR
from tests.store.helpers import broker_actor
from tests.threads.conftest import Threads

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _bernd_asks(
    sessions: async_sessionmaker[AsyncSession], threads: Threads, text: str = "Vorschäden?"
) -> Message:
    async with transaction(sessions) as session:
        return await post_in_thread(
            session, BERND_ACTOR, threads.backoffice, text, source_ts="1767000001.000001"
        )


async def _count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Message)) or 0)


async def _rows(sessions: async_sessionmaker[AsyncSession], message_id: int) -> list[QueueRow]:
    async with sessions() as session:
        ids = await sync_rows_of(session, message_id)
        return [row for row_id in ids if (row := await session.get(QueueRow, row_id))]


async def _claim(sessions: async_sessionmaker[AsyncSession], owner: str = "w1") -> list[int]:
    async with transaction(sessions) as session:
        jobs = await claim_due(
            session,
            kinds=["thread"],
            batch=50,
            now=datetime.now(UTC) + timedelta(seconds=1),
            policy=RetryPolicy(),
            owner=owner,
        )
    return [int(job.context["message_id"]) for job in jobs]


def test_it_reads_the_internal_prefix_case_insensitively() -> None:
    assert split_internal("  Intern: Kunde zahlt spät") == ("Kunde zahlt spät", True)
    assert split_internal("Bitte intern: prüfen") == ("Bitte intern: prüfen", False)


@time_machine.travel(NOW, tick=False)
async def test_it_stores_backoffice_bernds_reply_in_his_thread_as_pending(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    # rules M1, M2
    message = await _bernd_asks(sessions, threads)
    assert (message.role, message.delivery_state) == ("backoffice", "pending")
    assert (message.source_channel, message.source_ts) == ("C0BACKOFFICE", "1767000001.000001")
    [row] = await _rows(sessions, message.id)
    # Behind everything before it in the thread of Anna's card.
    assert (row.kind, row.ordering_key, row.next_attempt_at) == (
        "thread",
        f"tender:{threads.tender.id}:broker",
        NOW,
    )


async def test_it_refuses_carla_in_the_thread_of_annas_card(
    sessions: async_sessionmaker[AsyncSession], threads: Threads, carla: Broker
) -> None:
    await _bernd_asks(sessions, threads)
    with pytest.raises(AccessDenied) as refused:
        async with transaction(sessions) as session:
            await post_in_thread(
                session, broker_actor(carla), threads.broker, "Hallo", source_ts="1767000002.1"
            )
    assert refused.value.message_de == BROKER_THREAD_NOT_YOURS
    assert await _count(sessions) == 1


async def test_it_refuses_a_broker_in_the_backoffice_thread(
    sessions: async_sessionmaker[AsyncSession], threads: Threads, anna: Broker
) -> None:
    await _bernd_asks(sessions, threads)
    with pytest.raises(AccessDenied):
        async with transaction(sessions) as session:
            await post_in_thread(
                session, broker_actor(anna), threads.backoffice, "Hallo", source_ts="1767000002.1"
            )
    assert await _count(sessions) == 1


async def test_it_refuses_anna_writing_first_under_her_card(
    sessions: async_sessionmaker[AsyncSession], threads: Threads, anna: Broker
) -> None:
    # rule M2
    with pytest.raises(ConversationNotOpen):
        async with transaction(sessions) as session:
            await post_in_thread(
                session, broker_actor(anna), threads.broker, "Hallo", source_ts="1767000002.1"
            )
    assert await _count(sessions) == 0


async def test_it_keeps_an_intern_note_out_of_delivery(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    note = await _bernd_asks(sessions, threads, "intern: Kunde ist schwierig")
    assert (note.internal, note.body, note.delivery_state) == (
        True,
        "Kunde ist schwierig",
        "not_needed",
    )
    assert await _rows(sessions, note.id) == []
    assert await _claim(sessions) == []


async def test_it_queues_an_internal_modal_note_for_the_backoffice_thread_only(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    async with transaction(sessions) as session:
        note = await post_from_modal(
            session, BERND_ACTOR, threads.tender.reference, "Nur für uns", internal=True
        )
    [row] = await _rows(sessions, note.id)
    assert row.ordering_key == f"tender:{threads.tender.id}:backoffice"
    async with sessions() as session:
        job = await delivery_job(session, note.id)
    assert (job.internal, job.source_ts, job.origin is not None) == (True, None, True)


async def test_it_holds_a_later_message_of_the_thread_back_until_the_first_is_shown(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    first = await _bernd_asks(sessions, threads, "Vorschäden?")
    async with transaction(sessions) as session:
        second = await post_in_thread(
            session, BERND_ACTOR, threads.backoffice, "Baujahr?", source_ts="1767000002.000001"
        )

    assert await _claim(sessions) == [first.id]
    # Leased or not, the first one still blocks the thread: nothing overtakes it.
    assert await _claim(sessions, "w2") == []
    async with transaction(sessions) as session:
        jobs = await claim_due(
            session,
            kinds=["thread"],
            batch=5,
            now=datetime.now(UTC) + timedelta(minutes=5),
            policy=RetryPolicy(),
            owner="w3",
        )
        await record(session, [Outcome(job, "sent") for job in jobs], datetime.now(UTC))
    assert [int(job.context["message_id"]) for job in jobs] == [first.id]
    assert await _claim(sessions, "w4") == [second.id]


async def test_it_goes_round_again_when_the_message_was_edited_during_delivery(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    message = await _bernd_asks(sessions, threads, "Vorschäden?")
    async with transaction(sessions) as session:
        job = await delivery_job(session, message.id)
    async with transaction(sessions) as session:
        await edit_in_thread(
            session, BERND_ACTOR, "C0BACKOFFICE", "1767000001.000001", "Vorschäden seit 2020?"
        )
    async with transaction(sessions) as session:
        await record_mirror_post(session, message.id, threads_place(threads), "1767000009.1")
        assert not await mark_delivered(session, job)
        again = await delivery_job(session, message.id)
    # The edit wrote its own row behind the first: the next delivery shows the new text.
    assert len(await _rows(sessions, message.id)) == 2
    assert (again.body, again.mirror_ts, again.edited) == (
        "Vorschäden seit 2020?",
        "1767000009.1",
        True,
    )


async def test_it_requeues_a_delivered_message_after_an_edit_and_a_deletion(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    # rule M4: the revisions keep what was said
    message = await _bernd_asks(sessions, threads, "Vorschäden?")
    async with transaction(sessions) as session:
        assert await mark_delivered(session, await delivery_job(session, message.id))
    async with transaction(sessions) as session:
        edited = await edit_in_thread(
            session, BERND_ACTOR, "C0BACKOFFICE", "1767000001.000001", "Vorschäden 2024?"
        )
        assert edited is not None and edited.delivery_state == "pending"
    async with transaction(sessions) as session:
        assert await mark_delivered(session, await delivery_job(session, message.id))
        deleted = await delete_in_thread(session, BERND_ACTOR, "C0BACKOFFICE", "1767000001.000001")
        assert deleted is not None and deleted.delivery_state == "pending"
        revisions = list(await session.scalars(select(MessageRevision.change)))
    assert revisions == ["edited", "deleted"]


async def test_it_ignores_edits_by_someone_other_than_the_author(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    await _bernd_asks(sessions, threads)
    beate = BEATE_ACTOR
    async with transaction(sessions) as session:
        assert (
            await edit_in_thread(session, beate, "C0BACKOFFICE", "1767000001.000001", "x") is None
        )
        stored = await session.scalar(select(Message.body))
    assert stored == "Vorschäden?"


@pytest.mark.postgres_only
async def test_it_hands_a_thread_to_one_of_several_concurrent_workers_at_a_time(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    for number in range(30):
        async with transaction(sessions) as session:
            await post_in_thread(
                session,
                BERND_ACTOR,
                threads.backoffice,
                f"Frage {number}",
                source_ts=f"1767000100.{number:06d}",
            )

    batches = await asyncio.gather(*(_claim(sessions, f"w{number}") for number in range(6)))

    # Thirty messages of one thread: only the first may go, and only to one worker.
    claimed = [message_id for batch in batches for message_id in batch]
    assert len(claimed) == 1


def threads_place(threads: Threads) -> Place:
    return Place(threads.broker.channel, threads.broker.ts)
