"""Store side of the two mirrored threads: who may write where, and delivery bookkeeping."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.actors import Actor
from store.db import transaction
from store.errors import AccessDenied, ConversationNotOpen
from store.mirroring import (
    BROKER_THREAD_NOT_YOURS,
    LEASE,
    Place,
    claim_due,
    claim_message,
    delete_in_thread,
    delivery_job,
    edit_in_thread,
    mark_delivered,
    mark_failed,
    post_from_modal,
    post_in_thread,
    record_mirror_post,
    retry_delay,
    split_internal,
)
from store.models import Broker, Message, MessageRevision
from tests.conftest import BEATE
from tests.store.helpers import BERND_ACTOR, broker_actor
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


def test_it_backs_off_exponentially_up_to_an_hour() -> None:
    assert [retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert retry_delay(50) == timedelta(hours=1)


def test_it_reads_the_internal_prefix_case_insensitively() -> None:
    assert split_internal("  Intern: Kunde zahlt spät") == ("Kunde zahlt spät", True)
    assert split_internal("Bitte intern: prüfen") == ("Bitte intern: prüfen", False)


@time_machine.travel(NOW, tick=False)
async def test_it_stores_backoffice_bernds_reply_in_his_thread_as_pending(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    # rules M1, M2
    message = await _bernd_asks(sessions, threads)
    assert (message.role, message.delivery_state, message.next_delivery_at) == (
        "backoffice",
        "pending",
        NOW,
    )
    assert (message.source_channel, message.source_ts) == ("C0BACKOFFICE", "1767000001.000001")


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
    async with transaction(sessions) as session:
        assert await claim_due(session, datetime.now(UTC) + timedelta(days=1)) == []


async def test_it_queues_an_internal_modal_note_for_the_backoffice_thread_only(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    async with transaction(sessions) as session:
        note = await post_from_modal(
            session, BERND_ACTOR, threads.tender.reference, "Nur für uns", internal=True
        )
    async with transaction(sessions) as session:
        assert await claim_message(session, note.id, datetime.now(UTC) + timedelta(seconds=1))
        job = await delivery_job(session, note.id)
    assert (job.internal, job.source_ts, job.origin is not None) == (True, None, True)


async def test_it_leases_a_claimed_message_so_a_second_claim_gets_nothing(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    message = await _bernd_asks(sessions, threads)
    now = datetime.now(UTC) + timedelta(seconds=1)
    async with transaction(sessions) as session:
        assert await claim_due(session, now) == [message.id]
    async with transaction(sessions) as session:
        assert await claim_due(session, now) == []
        assert not await claim_message(session, message.id, now)
    async with transaction(sessions) as session:
        # The lease runs out: a worker that died mid-delivery only delays the message.
        assert await claim_due(session, now + LEASE) == [message.id]
        stored = await session.get(Message, message.id)
        assert stored is not None and stored.delivery_attempts == 2


async def test_it_retries_a_failed_delivery_after_the_backoff(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    message = await _bernd_asks(sessions, threads)
    now = datetime.now(UTC) + timedelta(seconds=1)
    async with transaction(sessions) as session:
        await claim_message(session, message.id, now)
        due = await mark_failed(session, message.id, "slack 429: ratelimited", now)
    assert due == now + timedelta(seconds=10)
    async with transaction(sessions) as session:
        assert await claim_due(session, due - timedelta(seconds=1)) == []
        assert await claim_due(session, due) == [message.id]
        job = await delivery_job(session, message.id)
    assert job.failed_before


async def test_it_goes_round_again_when_the_message_was_edited_during_delivery(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    message = await _bernd_asks(sessions, threads, "Vorschäden?")
    now = datetime.now(UTC) + timedelta(seconds=1)
    async with transaction(sessions) as session:
        await claim_message(session, message.id, now)
        job = await delivery_job(session, message.id)
    async with transaction(sessions) as session:
        await edit_in_thread(
            session, BERND_ACTOR, "C0BACKOFFICE", "1767000001.000001", "Vorschäden seit 2020?"
        )
    async with transaction(sessions) as session:
        await record_mirror_post(session, message.id, threads_place(threads), "1767000009.1")
        assert not await mark_delivered(session, job, now)
        assert await claim_due(session, now) == [message.id]
        again = await delivery_job(session, message.id)
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
    now = datetime.now(UTC) + timedelta(seconds=1)
    async with transaction(sessions) as session:
        await claim_message(session, message.id, now)
        assert await mark_delivered(session, await delivery_job(session, message.id), now)
    async with transaction(sessions) as session:
        edited = await edit_in_thread(
            session, BERND_ACTOR, "C0BACKOFFICE", "1767000001.000001", "Vorschäden 2024?"
        )
        assert edited is not None and edited.delivery_state == "pending"
    async with transaction(sessions) as session:
        await claim_message(session, message.id, datetime.now(UTC) + timedelta(seconds=1))
        assert await mark_delivered(session, await delivery_job(session, message.id), now)
        deleted = await delete_in_thread(session, BERND_ACTOR, "C0BACKOFFICE", "1767000001.000001")
        assert deleted is not None and deleted.delivery_state == "pending"
        revisions = list(await session.scalars(select(MessageRevision.change)))
    assert revisions == ["edited", "deleted"]


async def test_it_ignores_edits_by_someone_other_than_the_author(
    sessions: async_sessionmaker[AsyncSession], threads: Threads
) -> None:
    await _bernd_asks(sessions, threads)
    beate = Actor(slack_user_id=BEATE, role="backoffice", name="Beate Backoffice")
    async with transaction(sessions) as session:
        assert (
            await edit_in_thread(session, beate, "C0BACKOFFICE", "1767000001.000001", "x") is None
        )
        stored = await session.scalar(select(Message.body))
    assert stored == "Vorschäden?"


@pytest.mark.postgres_only
async def test_it_never_hands_one_message_to_two_concurrent_workers(
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
    now = datetime.now(UTC) + timedelta(seconds=1)

    async def worker() -> list[int]:
        async with transaction(sessions) as session:
            return await claim_due(session, now, limit=7)

    batches = await asyncio.gather(*(worker() for _ in range(6)))
    claimed = [message_id for batch in batches for message_id in batch]
    assert len(claimed) == len(set(claimed)) == 30


def threads_place(threads: Threads) -> Place:
    return Place(threads.broker.channel, threads.broker.ts)
