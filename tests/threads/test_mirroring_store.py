"""Store side of the two mirrored threads: who may write where (rules M2, M3, M5), and
delivery bookkeeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import transaction
from store.errors import ConversationNotOpen
from store.mirroring import (
    AskedInModal,
    ChangedInThread,
    Refused,
    ask_in_modal,
    change_in_thread,
    split_internal,
)
from store.models import Broker, Message, MessageRevision, QueueRow
from store.queue import Outcome, RetryPolicy, claim_due, record
from store.thread_access import BACKOFFICE_THREAD_ONLY, NOT_YOUR_THREAD
from store.thread_delivery import delivery_job, mark_delivered, record_mirror_post
from store.threads import Place, sync_rows_of
from tests.conftest import BACKOFFICE_USERS, BEATE, BERND
from tests.threads.conftest import Threads, stored_message, write

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


async def _bernd_asks(
    sessions: async_sessionmaker[AsyncSession], threads: Threads, text: str = "Vorschäden?"
) -> Message:
    outcome = await write(sessions, threads.backoffice, BERND, text, "1767000001.000001")
    return await stored_message(sessions, outcome)


async def _change(
    sessions: async_sessionmaker[AsyncSession], user: str, text: str | None, event: str
) -> Message | None:
    """``user`` edits (or with ``text`` None deletes) Bernd's first message; returns it as
    stored afterwards, or None when nothing was changed."""
    rows = await change_in_thread(
        sessions,
        ChangedInThread(event, "C0BACKOFFICE", "1767000001.000001", user, text),
        BACKOFFICE_USERS,
    )
    if not rows:
        return None
    async with sessions() as session:
        return await session.scalar(select(Message).where(Message.source_ts == "1767000001.000001"))


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
    # rule M3: only the owning broker answers under her card
    await _bernd_asks(sessions, threads)
    refused = await write(sessions, threads.broker, carla.slack_user_id, "Hallo", "1767000002.1")
    assert refused == Refused(NOT_YOUR_THREAD, threads.tender.reference)
    assert await _count(sessions) == 1


async def test_it_refuses_a_broker_in_the_backoffice_thread(
    sessions: async_sessionmaker[AsyncSession], threads: Threads, anna: Broker
) -> None:
    # rule M2: the backoffice thread is the backoffice's
    await _bernd_asks(sessions, threads)
    refused = await write(sessions, threads.backoffice, anna.slack_user_id, "Hallo", "17670.2")
    assert refused == Refused(BACKOFFICE_THREAD_ONLY, threads.tender.reference)
    assert await _count(sessions) == 1


async def test_it_refuses_anna_writing_first_under_her_card(
    sessions: async_sessionmaker[AsyncSession], threads: Threads, anna: Broker
) -> None:
    # rule M2: refused with an explanation, nothing stored
    refused = await write(sessions, threads.broker, anna.slack_user_id, "Hallo", "1767000002.1")
    assert isinstance(refused, Refused) and isinstance(refused.error, ConversationNotOpen)
    assert refused.code == ConversationNotOpen.code
    assert "Backoffice" in refused.error.message_de
    assert await _count(sessions) == 0


async def test_it_keeps_an_intern_note_out_of_delivery(  # rule M5
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
    asked = AskedInModal(BERND, "Bernd Backoffice", threads.tender.reference, "Nur für uns", True)
    stored = await ask_in_modal(sessions, asked, BACKOFFICE_USERS, "Rückfragen stellen")
    note = await stored_message(sessions, stored)
    assert [row.id for row in await _rows(sessions, note.id)] == list(stored.rows)
    [row] = await _rows(sessions, note.id)
    assert row.ordering_key == f"tender:{threads.tender.id}:backoffice"
    async with sessions() as session:
        job = await delivery_job(session, note.id)
    assert (job.internal, job.source_ts, job.origin is not None) == (True, None, True)


async def test_it_holds_a_later_message_of_the_thread_back_until_the_first_is_shown(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    first = await _bernd_asks(sessions, threads, "Vorschäden?")
    second = await stored_message(
        sessions, await write(sessions, threads.backoffice, BERND, "Baujahr?", "1767000002.1")
    )

    # One worker takes the thread's messages, in order; no other gets any of them.
    assert await _claim(sessions) == [first.id, second.id]
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
        # w1's lease ran out; w3 shows the first and hands the second back untried.
        sent, behind = jobs
        outcomes = [Outcome(sent, "sent"), Outcome(behind, "pending", untried=True)]
        await record(session, outcomes, datetime.now(UTC))
    assert [int(job.context["message_id"]) for job in jobs] == [first.id, second.id]
    assert await _claim(sessions, "w4") == [second.id]


async def test_it_goes_round_again_when_the_message_was_edited_during_delivery(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    message = await _bernd_asks(sessions, threads, "Vorschäden?")
    async with transaction(sessions) as session:
        job = await delivery_job(session, message.id)
    assert await _change(sessions, BERND, "Vorschäden seit 2020?", "EvEdit1") is not None
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
    edited = await _change(sessions, BERND, "Vorschäden 2024?", "EvEdit1")
    assert edited is not None and edited.delivery_state == "pending"
    async with transaction(sessions) as session:
        assert await mark_delivered(session, await delivery_job(session, message.id))
    deleted = await _change(sessions, BERND, None, "EvDelete1")
    assert deleted is not None and deleted.delivery_state == "pending"
    assert deleted.deleted_at is not None
    async with sessions() as session:
        revisions = list(await session.scalars(select(MessageRevision.change)))
    assert revisions == ["edited", "deleted"]


async def test_it_ignores_edits_by_someone_other_than_the_author(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    await _bernd_asks(sessions, threads)
    assert await _change(sessions, BEATE, "x", "EvEdit1") is None
    async with sessions() as session:
        stored = await session.scalar(select(Message.body))
    assert stored == "Vorschäden?"


@pytest.mark.postgres_only
async def test_it_hands_a_thread_to_one_of_several_concurrent_workers_at_a_time(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    for number in range(30):
        await write(sessions, threads.backoffice, BERND, f"Frage {number}", f"17670.{number:06d}")

    batches = await asyncio.gather(*(_claim(sessions, f"w{number}") for number in range(6)))

    # Thirty messages of one thread: all to one worker, in order; none to any other.
    taken = [batch for batch in batches if batch]
    assert len(taken) == 1
    assert taken[0] == sorted(taken[0])
    assert len(taken[0]) == 30


def threads_place(threads: Threads) -> Place:
    return Place(threads.broker.channel, threads.broker.ts)
