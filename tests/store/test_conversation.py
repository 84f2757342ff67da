from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.conversation import (
    NewAttachment,
    delete_message,
    edit_message,
    history,
    post_message,
)
from store.db import transaction
from store.errors import AccessDenied, ConversationNotOpen, InvalidInput, TenderClosed
from store.models import Broker, Conversation, Message, QueueRow
from store.tenders import close_tender
from tests.conftest import BERND_ACTOR
from tests.store.helpers import broker_actor, started_tender


async def test_it_refuses_a_broker_who_writes_first_and_stores_nothing(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule M2
    tender = await started_tender(sessions, anna)
    with pytest.raises(ConversationNotOpen) as refused:
        async with transaction(sessions) as session:
            await post_message(session, broker_actor(anna), tender.reference, "Hallo Backoffice?")
    assert "Erst wenn Ihr Backoffice Ihnen schreibt" in refused.value.message_de
    async with transaction(sessions) as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0


async def test_it_opens_the_module_with_the_first_backoffice_query_and_emails_the_broker(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rules M1, M2, M5, N2
    tender = await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        await post_message(
            session, BERND_ACTOR, tender.reference, "Gab es Vorschäden über 5.000 €?"
        )
    async with transaction(sessions) as session:
        answer = await post_message(session, broker_actor(anna), tender.reference, "Nein, keine.")
        conversation = await session.scalar(select(Conversation))
        outbox = list(
            await session.scalars(
                select(QueueRow).where(QueueRow.kind.in_(("email", "slack"))).order_by(QueueRow.id)
            )
        )
    assert answer.role == "broker"
    assert conversation is not None and conversation.opened_by == BERND_ACTOR.slack_user_id
    assert {(row.kind, row.recipient, row.template) for row in outbox} == {
        ("email", "anna@makler-adler.example", "query"),
        ("email", "assistenz@makler-adler.example", "query"),
        ("slack", "U0ANNA", "query"),
    }
    assert outbox[0].context["body"] == "Gab es Vorschäden über 5.000 €?"


async def test_it_keeps_internal_notes_from_the_broker_and_does_not_open_the_module(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    tender = await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        note = await post_message(
            session, BERND_ACTOR, tender.reference, "Risiko eher schwierig", internal=True
        )
    assert note.delivery_state == "not_needed"
    with pytest.raises(ConversationNotOpen):
        async with transaction(sessions) as session:
            await post_message(session, broker_actor(anna), tender.reference, "Und?")
    async with transaction(sessions) as session:
        seen_by_anna = await history(session, broker_actor(anna), tender.reference)
        seen_by_bernd = await history(session, BERND_ACTOR, tender.reference)
        assert (
            await session.scalar(
                select(func.count())
                .select_from(QueueRow)
                .where(QueueRow.kind.in_(("email", "slack")))
            )
            == 0
        )
    assert seen_by_anna == []
    assert [m.body for m in seen_by_bernd] == ["Risiko eher schwierig"]


async def test_it_stores_attachments_with_name_type_size_and_sha256(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule M3
    tender = await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        await post_message(session, BERND_ACTOR, tender.reference, "Bitte Schadenliste senden")
        message = await post_message(
            session,
            broker_actor(anna),
            tender.reference,
            "Anbei",
            attachments=[NewAttachment("schaeden.pdf", "application/pdf", b"%PDF-1.4 test")],
        )
    [attachment] = message.attachments
    assert (attachment.name, attachment.mimetype, attachment.size) == (
        "schaeden.pdf",
        "application/pdf",
        13,
    )
    assert attachment.sha256 == hashlib.sha256(b"%PDF-1.4 test").hexdigest()


@pytest.mark.parametrize(
    ("attachment", "reason"),
    [
        (NewAttachment("tool.exe", "application/octet-stream", b"MZ"), "dieses Typs"),
        (
            NewAttachment("huge.pdf", "application/pdf", b"0" * (20 * 1024 * 1024 + 1)),
            "zu groß",
        ),
    ],
    ids=["executable", "oversized"],
)
async def test_it_refuses_executables_and_oversized_files(
    sessions: async_sessionmaker[AsyncSession],
    anna: Broker,
    attachment: NewAttachment,
    reason: str,
) -> None:
    tender = await started_tender(sessions, anna)
    with pytest.raises(InvalidInput) as refused:
        async with transaction(sessions) as session:
            await post_message(
                session, BERND_ACTOR, tender.reference, "Datei", attachments=[attachment]
            )
    # The refusal names the file and why, so the sender knows which one to replace.
    assert f"„{attachment.name}“" in refused.value.message_de
    assert reason in refused.value.message_de


async def test_it_keeps_the_whole_history_readable_after_close(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    # rule M4
    tender = await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        question = await post_message(session, BERND_ACTOR, tender.reference, "Umsatz 2025?")
        await post_message(session, broker_actor(anna), tender.reference, "1,2 Mio €")
        await edit_message(session, BERND_ACTOR, question.id, "Umsatz 2025 bitte?")
        await close_tender(session, BERND_ACTOR, tender.reference)
    with pytest.raises(TenderClosed) as closed:
        async with transaction(sessions) as session:
            await post_message(session, broker_actor(anna), tender.reference, "Noch was")
    assert f"/verlauf {tender.reference}" in closed.value.message_de
    async with transaction(sessions) as session:
        messages = await history(session, broker_actor(anna), tender.reference)
    assert [m.body for m in messages] == ["Umsatz 2025 bitte?", "1,2 Mio €"]
    assert [r.body for r in messages[0].revisions] == ["Umsatz 2025?"]


async def test_it_keeps_deleted_messages_in_the_history(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    tender = await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        await post_message(session, BERND_ACTOR, tender.reference, "Frage")
        answer = await post_message(session, broker_actor(anna), tender.reference, "Tippfehler")
        await delete_message(session, broker_actor(anna), answer.id)
    async with transaction(sessions) as session:
        messages = await history(session, BERND_ACTOR, tender.reference)
    assert messages[1].deleted_at is not None
    assert [(r.change, r.body) for r in messages[1].revisions] == [("deleted", "Tippfehler")]


async def test_it_lets_people_change_only_their_own_messages(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    tender = await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        question = await post_message(session, BERND_ACTOR, tender.reference, "Frage")
    with pytest.raises(AccessDenied):
        async with transaction(sessions) as session:
            await edit_message(session, broker_actor(anna), question.id, "Gefälscht")


async def test_it_keeps_other_brokers_out_of_the_conversation(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, carla: Broker
) -> None:
    tender = await started_tender(sessions, anna)
    async with transaction(sessions) as session:
        await post_message(session, BERND_ACTOR, tender.reference, "Frage an Anna")
    with pytest.raises(AccessDenied):
        async with transaction(sessions) as session:
            await post_message(session, broker_actor(carla), tender.reference, "Ich mische mit")
    with pytest.raises(AccessDenied):
        async with transaction(sessions) as session:
            await history(session, broker_actor(carla), tender.reference)
