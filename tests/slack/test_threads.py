"""The message module as two mirrored Slack threads, through the real app over signed HTTP.

Broker Anna starts a tender with /ausschreibung (both cards are posted, their threads
recorded); backoffice Bernd and Anna then write in the threads as Slack users do: Slack stores
the message and sends the event; the test checks what the local Slack received and what the
store holds. Rules M1–M5 and N2.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from slack_bolt.async_app import AsyncApp
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.localslack import Fault, LocalSlack, SignedSender
from bot.localslack.running import RunningApp
from bot.personas import ANNA, CARLA
from bot.queue_worker import queue_steps, slack_senders
from bot.settings import Settings
from handlers.blocks.threads import INTERNAL_BLOCK, NOT_DELIVERED_YET, NOTES_BLOCK
from handlers.deps import Deps
from handlers.threads import handle_message_event
from handlers.threads_refusals import REFUSALS
from notifications import flush_outbox
from store.conversation import BROKER_CANNOT_OPEN
from store.db import transaction
from store.mirroring import WrittenInThread, write_in_thread
from store.models import Attachment, Broker, MessageRevision, QueueRow
from store.tenders import close_tender
from store.thread_access import NOT_YOUR_THREAD
from store.threads import sync_rows_of, thread_link_at
from store.wake import QUEUE, run_when_woken
from tests.blocks import block, block_text, sections_text
from tests.conftest import BACKOFFICE_CHANNEL, BACKOFFICE_USERS, BERND, BERND_ACTOR
from tests.handlers.scenario import (
    TenderThreads,
    bot_replies,
    eventually,
    replies,
    settled,
    stored,
    thread_message,
    write,
)


async def deliver_pending(
    sessions: async_sessionmaker[AsyncSession], client: Any, now: datetime
) -> int:
    """One round of the queue worker for the Slack rows due at ``now``; how many arrived."""
    return (await flush_outbox(sessions, slack_senders(sessions, client), now=now)).sent


async def next_attempt(sessions: async_sessionmaker[AsyncSession], message_id: int) -> datetime:
    async with sessions() as session:
        [row_id, *_] = await sync_rows_of(session, message_id)
        row = await session.get(QueueRow, row_id)
    assert row is not None
    return row.next_attempt_at


@pytest.fixture(autouse=True)
def november_2026() -> Iterator[None]:
    with time_machine.travel("2026-11-23 10:00 +01:00", tick=True):
        yield


async def ephemeral_for(slack: LocalSlack, user: str, count: int = 1) -> dict[str, Any]:
    await slack.wait_for(lambda: len(slack.ephemerals(user)) >= count)
    return slack.ephemerals(user)[count - 1]


async def bernd_asks(
    slack: LocalSlack, slack_request: SignedSender, tender: TenderThreads, text: str = "Vorschäden?"
) -> str:
    ts = await write(slack, slack_request, BERND, tender.backoffice, text)
    await bot_replies(slack, tender.broker, 1)
    return ts


# -- opening (M2) ----------------------------------------------------------------------------


async def test_it_opens_the_module_when_bernd_replies_under_the_backoffice_card(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # rules M1, M2, M5, N2
    ts = await write(
        slack, slack_request, BERND, tender.backoffice, "Gab es Vorschäden über 5.000 €?"
    )
    [mirror] = await bot_replies(slack, tender.broker, 1)
    assert mirror["username"] == "Bernd Backoffice (Backoffice)"
    assert mirror["icon_url"] == f"https://avatars.example/{BERND}.png"
    assert "Gab es Vorschäden über 5.000 €?" in sections_text([mirror])
    [message] = await settled(sessions, 1)
    assert (message.role, message.author_name, message.source_ts) == (
        "backoffice",
        "Bernd Backoffice",
        ts,
    )
    assert (message.delivery_state, message.mirror_channel, message.mirror_ts) == (
        "delivered",
        tender.broker.channel,
        mirror["ts"],
    )
    async with sessions() as session:
        mails = list(
            await session.scalars(
                select(QueueRow.recipient).where(
                    QueueRow.template == "query", QueueRow.kind == "email"
                )
            )
        )
    assert sorted(mails) == ["anna@makler-adler.example", "assistenz@makler-adler.example"]


async def test_it_opens_the_module_with_the_rueckfrage_modal_on_the_card(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # rules M2, M5
    await slack_request.send_button(
        BERND, "tender_query_open", tender.reference, channel=BACKOFFICE_CHANNEL
    )
    [opened] = await slack.wait_for_calls("views.open")
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert (view["callback_id"], view["private_metadata"]) == (
        "tender_query_submit",
        tender.reference,
    )
    answer = await slack_request.send_view_submission(
        BERND,
        {
            "callback_id": "tender_query_submit",
            "private_metadata": tender.reference,
            "state": {
                "values": {
                    "query_body": {"body": {"type": "plain_text_input", "value": "Baujahr?"}},
                    "query_internal": {"internal": {"selected_options": []}},
                }
            },
        },
    )
    assert answer.status == 200 and not answer.text
    [in_broker_thread] = await bot_replies(slack, tender.broker, 1)
    [in_backoffice_thread] = await bot_replies(slack, tender.backoffice, 1)
    for post in (in_broker_thread, in_backoffice_thread):
        assert post["username"] == "Bernd Backoffice (Backoffice)"
        assert "Baujahr?" in post["text"]
    [message] = await settled(sessions, 1)
    assert (message.source_ts, message.mirror_ts) == (
        in_backoffice_thread["ts"],
        in_broker_thread["ts"],
    )


async def test_it_asks_for_text_when_the_modal_is_sent_empty(
    tender: TenderThreads, slack_request: SignedSender, sessions: async_sessionmaker[AsyncSession]
) -> None:
    answer = await slack_request.send_view_submission(
        BERND,
        {
            "callback_id": "tender_query_submit",
            "private_metadata": tender.reference,
            "state": {"values": {"query_body": {"body": {"value": "  "}}}},
        },
    )
    assert answer.json() == {
        "response_action": "errors",
        "errors": {"query_body": "Bitte schreiben Sie Ihre Rückfrage."},
    }
    assert await stored(sessions) == []


async def test_it_refuses_anna_writing_before_the_backoffice_and_stores_nothing(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # rule M2
    await write(slack, slack_request, ANNA, tender.broker, "Hallo, gibt es schon Angebote?")
    note = await ephemeral_for(slack, ANNA)
    assert note["text"] == BROKER_CANNOT_OPEN
    assert (note["channel"], note["thread_ts"]) == (tender.broker.channel, tender.broker.ts)
    assert await stored(sessions) == []
    assert replies(slack, tender.backoffice) == []


async def test_it_refuses_carla_writing_into_the_thread_of_annas_card(
    tender: TenderThreads,
    carla: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await bernd_asks(slack, slack_request, tender)
    await write(slack, slack_request, CARLA, tender.broker, "Ich mische mich ein")
    # rule M3: only the owning broker answers under her card, and Carla learns why
    note = await ephemeral_for(slack, CARLA)
    assert note["text"] == REFUSALS[NOT_YOUR_THREAD]
    assert [m.author_slack_id for m in await stored(sessions)] == [BERND]
    assert len(replies(slack, tender.backoffice)) == 1  # only Bernd's own question


# -- mirroring (M3) --------------------------------------------------------------------------


async def test_it_mirrors_annas_answer_with_a_file_to_the_backoffice_thread(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # rule M3
    await bernd_asks(slack, slack_request, tender)
    content = b"%PDF-1.4 Schadenliste 2021-2025\n" * 100
    shared = slack.add_file("schadenliste.pdf", content, "application/pdf", user=ANNA)
    await write(
        slack, slack_request, ANNA, tender.broker, "Anbei die Schadenliste.", files=[shared]
    )
    [uploaded] = await slack.wait_for_calls("files.completeUploadExternal")
    assert (uploaded.params["channel_id"], uploaded.params["thread_ts"]) == (
        tender.backoffice.channel,
        tender.backoffice.ts,
    )
    [_bernds, annas] = await settled(sessions, 2)
    assert annas.role == "broker" and annas.mirror_channel == BACKOFFICE_CHANNEL
    async with sessions() as session:
        [attachment] = list(await session.scalars(select(Attachment)))
    assert (attachment.name, attachment.mimetype, attachment.size) == (
        "schadenliste.pdf",
        "application/pdf",
        len(content),
    )
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()
    assert attachment.mirror_file_id is not None
    assert slack.file_content(attachment.mirror_file_id) == content
    [download] = slack.calls("download")
    assert download.headers["authorization"] == "Bearer xoxb-test"
    mirror = [m for m in replies(slack, tender.backoffice) if m.get("username")][-1]
    assert mirror["username"] == "Anna Adler (Vermittler)"
    assert "schadenliste.pdf" in block_text(mirror, NOTES_BLOCK)


async def test_it_refuses_an_executable_with_a_german_note_and_stores_nothing(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await bernd_asks(slack, slack_request, tender)
    shared = slack.add_file("rechnung.exe", b"MZ...", "application/octet-stream", user=ANNA)
    await write(slack, slack_request, ANNA, tender.broker, "Siehe Anhang", files=[shared])
    note = await ephemeral_for(slack, ANNA)
    assert note["text"] == "Dateien dieses Typs („rechnung.exe“) können nicht angehängt werden."
    assert [m.author_slack_id for m in await stored(sessions)] == [BERND]
    assert slack.calls("download") == []


async def test_it_mirrors_an_edit_and_keeps_the_earlier_text(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # rule M4
    ts = await bernd_asks(slack, slack_request, tender, "Vorschäden?")
    [mirror] = await bot_replies(slack, tender.broker, 1)
    await settled(sessions, 1)
    await slack_request.send_event(
        {
            "type": "message",
            "subtype": "message_changed",
            "channel": tender.backoffice.channel,
            "hidden": True,
            "message": {
                "type": "message",
                "user": BERND,
                "text": "Vorschäden seit 2020?",
                "ts": ts,
                "thread_ts": tender.backoffice.ts,
                "edited": {"user": BERND, "ts": "1795000000.000001"},
            },
            "previous_message": {"type": "message", "user": BERND, "text": "Vorschäden?"},
            "ts": "1795000000.000002",
        }
    )
    [update] = await slack.wait_for_calls("chat.update")
    assert (update.params["channel"], update.params["ts"]) == (
        tender.broker.channel,
        mirror["ts"],
    )
    assert "Vorschäden seit 2020?" in update.params["text"]
    [message] = await settled(sessions, 1)
    assert message.body == "Vorschäden seit 2020?" and message.edited_at is not None
    async with sessions() as session:
        assert list(await session.scalars(select(MessageRevision.body))) == ["Vorschäden?"]


async def test_it_mirrors_a_deletion_and_keeps_it_in_the_history(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # rule M4
    ts = await bernd_asks(slack, slack_request, tender, "Falscher Thread, sorry")
    [mirror] = await bot_replies(slack, tender.broker, 1)
    await settled(sessions, 1)
    await slack_request.send_event(
        {
            "type": "message",
            "subtype": "message_deleted",
            "channel": tender.backoffice.channel,
            "hidden": True,
            "deleted_ts": ts,
            "previous_message": {
                "type": "message",
                "user": BERND,
                "text": "Falscher Thread, sorry",
                "ts": ts,
                "thread_ts": tender.backoffice.ts,
            },
            "ts": "1795000000.000003",
        }
    )
    [deleted] = await slack.wait_for_calls("chat.delete")
    assert (deleted.params["channel"], deleted.params["ts"]) == (
        tender.broker.channel,
        mirror["ts"],
    )
    [message] = await settled(sessions, 1)
    assert message.deleted_at is not None
    async with sessions() as session:
        revisions = list(await session.scalars(select(MessageRevision.change)))
    assert revisions == ["deleted"]
    assert replies(slack, tender.broker) == []


async def test_it_keeps_bernds_intern_note_in_the_backoffice_thread(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await bernd_asks(slack, slack_request, tender, "Vorschäden?")
    await write(slack, slack_request, BERND, tender.backoffice, "intern: Kunde zahlt oft spät")
    await eventually(lambda: _count(sessions, 2))
    [_question, note] = await settled(sessions, 2)
    assert (note.internal, note.body, note.delivery_state) == (
        True,
        "Kunde zahlt oft spät",
        "not_needed",
    )
    assert len(replies(slack, tender.broker)) == 1  # only the question reached Anna
    async with sessions() as session:
        mails = await session.scalar(
            select(func.count()).select_from(QueueRow).where(QueueRow.kind == "email")
        )
    assert mails == 2  # the question's e-mail to Anna and her CC, none for the note


async def mirrored_once_in_order(
    slack: LocalSlack,
    sessions: async_sessionmaker[AsyncSession],
    tender: TenderThreads,
    texts: list[str],
) -> None:
    """``texts`` were stored and mirrored to Anna's thread once each, in this order."""
    await bot_replies(slack, tender.broker, len(texts))
    assert [m.body for m in await settled(sessions, len(texts))] == texts
    assert [m["text"].split(": ", 1)[1] for m in replies(slack, tender.broker)] == texts


async def test_it_handles_a_redelivered_event_once(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    ts = await write(slack, slack_request, BERND, tender.backoffice, "Baujahr?", event_id="Ev1")
    event = thread_message(BERND, tender.backoffice, "Baujahr?", ts)
    again = await slack_request.send_event(event, event_id="Ev1", retry_num=1)
    assert again.status == 200
    await settled(sessions, 1)
    # A later message is mirrored after the retry was handled; the retry added nothing.
    await write(slack, slack_request, BERND, tender.backoffice, "Und die Fläche?")
    await mirrored_once_in_order(slack, sessions, tender, ["Baujahr?", "Und die Fläche?"])


async def test_it_stores_both_first_messages_when_they_arrive_at_once(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # Both are checked while the thread has no conversation yet; both must be kept.
    await asyncio.gather(
        write(slack, slack_request, BERND, tender.backoffice, "Baujahr?"),
        write(slack, slack_request, BERND, tender.backoffice, "Und die Fläche?"),
    )

    async def both_stored() -> bool:
        return len(await stored(sessions)) == 2

    # Stored is what counts here: delivering them (in thread order) is the queue's job.
    await eventually(both_stored)
    assert sorted(m.body for m in await stored(sessions)) == ["Baujahr?", "Und die Fläche?"]


async def test_it_keeps_the_first_payload_when_a_retry_of_the_same_event_differs(
    tender: TenderThreads,
    slack: LocalSlack,
    served: RunningApp,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await write(slack, slack_request, BERND, tender.backoffice, "Baujahr?", event_id="EvDiff")
    await settled(sessions, 1)
    ts = slack.state.post(tender.backoffice.channel, {"text": "x"})["ts"]
    changed = thread_message(BERND, tender.backoffice, "Ganz andere Frage?", ts)

    again = await slack_request.send_event(changed, event_id="EvDiff", retry_num=1)
    await served.idle()
    await write(slack, slack_request, BERND, tender.backoffice, "Und die Fläche?")

    # The event id decides (its claim is in the storing transaction), not the payload.
    assert again.status == 200
    await mirrored_once_in_order(slack, sessions, tender, ["Baujahr?", "Und die Fläche?"])


# -- Slack refuses: stored, marked, delivered later ----------------------------------------


@pytest.mark.parametrize(
    ("status", "times", "error"),
    [(429, 4, None), (500, 3, None), (200, 1, "internal_error")],
    ids=["rate-limited", "server-error", "ok-false-internal-error"],
)
async def test_it_keeps_a_refused_mirror_pending_and_the_worker_delivers_it_later(
    status: int,
    times: int,
    error: str | None,
    tender: TenderThreads,
    app: AsyncApp,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # The client's own retries (3 for 429, 2 for 5xx) are used up first.
    slack.fail_next("chat.postMessage", status=status, times=times, error=error)
    ts = await write(slack, slack_request, BERND, tender.backoffice, "Vorschäden?")
    note = await ephemeral_for(slack, BERND)
    assert note["text"] == NOT_DELIVERED_YET
    source = slack.state.find(tender.backoffice.channel, ts)
    assert source is not None
    assert [r["name"] for r in source.get("reactions", [])] == ["hourglass_flowing_sand"]
    [pending] = await stored(sessions)
    assert pending.delivery_state == "pending" and pending.last_delivery_error
    assert replies(slack, tender.broker) == []

    due = await next_attempt(sessions, pending.id)
    assert await deliver_pending(sessions, app.client, due - timedelta(seconds=1)) == 0
    assert await deliver_pending(sessions, app.client, due) == 1
    [mirror] = replies(slack, tender.broker)
    assert "Vorschäden?" in mirror["text"]
    [delivered] = await stored(sessions)
    assert (delivered.delivery_state, delivered.mirror_ts) == ("delivered", mirror["ts"])
    assert slack.state.find(tender.backoffice.channel, ts).get("reactions") == []  # type: ignore[union-attr]
    # Nothing is posted twice by a later round.
    assert await deliver_pending(sessions, app.client, datetime.now(UTC) + timedelta(hours=2)) == 0
    assert len(replies(slack, tender.broker)) == 1


async def test_it_dead_letters_a_mirror_slack_refuses_for_good_and_tells_the_backoffice(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    slack.fail_next("chat.postMessage", error="is_archived")
    await write(slack, slack_request, BERND, tender.backoffice, "Vorschäden?")
    assert (await ephemeral_for(slack, BERND))["text"] == NOT_DELIVERED_YET
    [message] = await stored(sessions)
    async with sessions() as session:
        rows = list(
            await session.scalars(
                select(QueueRow).where(QueueRow.kind == "thread").order_by(QueueRow.id)
            )
        )
        notices = list(
            await session.scalars(select(QueueRow).where(QueueRow.template == "dead_letter"))
        )
    assert [(row.status, row.last_error) for row in rows] == [
        ("dead", "slack thread delivery 200: is_archived")
    ]
    assert message.delivery_state == "pending"
    assert [(n.recipient, n.context["row_id"]) for n in notices] == [
        (BACKOFFICE_CHANNEL, rows[0].id)
    ]
    assert replies(slack, tender.broker) == []


async def test_it_mirrors_a_thread_in_the_order_written_while_every_third_post_fails(
    tender: TenderThreads,
    app: AsyncApp,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # As measured before the queue: a later message overtook an earlier one that failed.
    slack.inject_faults(["chat.postMessage"], every=3, faults=[Fault(error="internal_error")])
    texts = [f"Frage {number}" for number in range(1, 10)]
    for number, body in enumerate(texts, start=1):
        await write(slack, slack_request, BERND, tender.backoffice, body)
        await eventually(lambda number=number: _stored_count(sessions, number))

    later = datetime.now(UTC)
    for _round in range(40):
        later += timedelta(hours=3)
        await deliver_pending(sessions, app.client, later)
        if all(m.delivery_state == "delivered" for m in await stored(sessions)):
            break

    mirrored = [m["text"] for m in replies(slack, tender.broker) if m.get("bot_id")]
    assert [post.split(": ", 1)[1] for post in mirrored] == texts
    assert len(slack.calls("chat.postMessage")) > len(mirrored)  # the faults did happen


async def test_it_mirrors_messages_held_back_behind_earlier_ones_without_waiting_for_the_poll(
    tender: TenderThreads,
    app: AsyncApp,
    slack: LocalSlack,
    slack_request: SignedSender,
    slack_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # rule M3: Bernd writes five messages at once. Each one after the first waits in the
    # queue behind the one before; it must not wait for the worker's next poll (an hour).
    await bernd_asks(slack, slack_request, tender)
    steps = queue_steps(slack_settings, sessions, app.client)
    worker = asyncio.create_task(run_when_woken(sessions, QUEUE, steps.drain, interval=3600))
    try:
        texts = [f"Frage {number}" for number in range(1, 6)]
        await asyncio.gather(
            *(write(slack, slack_request, BERND, tender.backoffice, text) for text in texts)
        )

        def mirrored() -> list[str]:
            posts = [m["text"] for m in replies(slack, tender.broker) if m.get("bot_id")]
            return [post.split(": ", 1)[1] for post in posts[1:]]

        await slack.wait_for(lambda: len(mirrored()) == len(texts), seconds=60)
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
    # Written at once, so in the order their events were stored: every one exactly once.
    assert sorted(mirrored()) == texts


async def _stored_count(sessions: async_sessionmaker[AsyncSession], count: int) -> bool:
    return len(await stored(sessions)) == count


async def test_it_posts_a_message_stored_before_a_crash_exactly_once(
    tender: TenderThreads,
    app: AsyncApp,
    slack: LocalSlack,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # The process died after the commit and before the post: the row is pending.
    link = tender.backoffice
    written = WrittenInThread(
        "Ev9", link.channel, link.ts, "1795000000.000009", BERND, "Vorschäden?"
    )
    await write_in_thread(sessions, written, BACKOFFICE_USERS)
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert await deliver_pending(sessions, app.client, now) == 1
    assert await deliver_pending(sessions, app.client, now + timedelta(hours=1)) == 0
    assert len(replies(slack, tender.broker)) == 1


# -- closed tenders and what is ignored --------------------------------------------------------


async def test_it_answers_in_the_thread_of_a_closed_tender_and_stores_nothing_new(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # rule M4
    await bernd_asks(slack, slack_request, tender)
    await settled(sessions, 1)
    async with transaction(sessions) as session:
        await close_tender(session, BERND_ACTOR, tender.reference)
    await write(slack, slack_request, ANNA, tender.broker, "Noch eine Frage")
    [notice] = await _closed(slack, tender)
    assert f"Die Ausschreibung {tender.reference} ist abgeschlossen" in notice["text"]
    assert f"/verlauf {tender.reference}" in notice["text"]
    # No TENDERBOT_CONTACT configured here: the notice points to the start page.
    assert "Kontaktdaten auf Ihrer Startseite" in notice["text"]
    assert len(await stored(sessions)) == 1


async def test_it_posts_the_closed_notice_later_when_slack_fails_and_only_once(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
    app: AsyncApp,
) -> None:
    # rule M4: the notice is a post in the thread, so it leaves through the queue
    async with transaction(sessions) as session:
        await close_tender(session, BERND_ACTOR, tender.reference)
    slack.fail_next("chat.postMessage", error="internal_error")

    await write(slack, slack_request, ANNA, tender.broker, "Noch eine Frage")

    async def tried() -> bool:
        rows = await _notice_rows(sessions)
        return len(rows) == 1 and rows[0].attempts >= 1 and rows[0].status == "pending"

    await eventually(tried)
    assert await _closed_now(slack, tender) == []
    later = datetime.now(UTC) + timedelta(hours=1)
    retried = await flush_outbox(sessions, slack_senders(sessions, app.client), now=later)
    again = await flush_outbox(sessions, slack_senders(sessions, app.client), now=later)

    assert retried.sent == 1
    assert again.claimed == 0
    [notice] = await _closed(slack, tender)
    assert f"Die Ausschreibung {tender.reference} ist abgeschlossen" in notice["text"]
    assert [row.status for row in await _notice_rows(sessions)] == ["sent"]
    assert await stored(sessions) == []


async def _notice_rows(sessions: async_sessionmaker[AsyncSession]) -> list[QueueRow]:
    async with transaction(sessions) as session:
        return list(
            await session.scalars(
                select(QueueRow).where(QueueRow.template == "thread_notice").order_by(QueueRow.id)
            )
        )


async def _closed_now(slack: LocalSlack, tender: TenderThreads) -> list[dict[str, Any]]:
    return [
        m
        for m in replies(slack, tender.broker)
        if m.get("bot_id") and "abgeschlossen" in m.get("text", "")
    ]


async def test_it_ignores_bots_broadcasts_and_threads_without_a_tender(
    tender: TenderThreads,
    slack: LocalSlack,
    sessions: async_sessionmaker[AsyncSession],
    app: AsyncApp,
) -> None:
    deps = Deps(sessions, BACKOFFICE_USERS, BACKOFFICE_CHANNEL, ZoneInfo("Europe/Berlin"))
    base = {"type": "message", "channel": BACKOFFICE_CHANNEL, "text": "Hallo", "ts": "1795.1"}
    ignored = [
        {**base, "user": BERND, "thread_ts": tender.backoffice.ts, "bot_id": "B0OTHER"},
        {**base, "user": BERND, "thread_ts": tender.backoffice.ts, "subtype": "thread_broadcast"},
        {**base, "user": "U0TENDERBOT", "thread_ts": tender.backoffice.ts},
        {**base, "user": BERND, "thread_ts": "1700000000.000001"},  # another thread
        {**base, "user": BERND},  # top level, no thread
    ]
    calls_before = len(slack.calls())
    for number, event in enumerate(ignored):
        await handle_message_event(
            deps, app.client, event, {"event_id": f"EvIgnored{number}"}, "U0TENDERBOT"
        )
    assert await stored(sessions) == []
    assert slack.calls()[calls_before:] == []
    async with sessions() as session:
        assert await thread_link_at(session, BACKOFFICE_CHANNEL, tender.backoffice.ts) is not None


async def _count(sessions: async_sessionmaker[AsyncSession], count: int) -> bool:
    return len(await stored(sessions)) >= count


async def _closed(slack: LocalSlack, tender: TenderThreads) -> list[dict[str, Any]]:
    def notices() -> list[dict[str, Any]]:
        return [
            m
            for m in replies(slack, tender.broker)
            if m.get("bot_id") and "abgeschlossen" in m.get("text", "")
        ]

    await slack.wait_for(lambda: len(notices()) >= 1)
    return notices()


# -- internal notes from the modal and the message shortcut -----------------------------------


def query_submission(reference: str, text: str, *, internal: bool) -> dict[str, Any]:
    chosen = [{"value": "internal"}] if internal else []
    return {
        "callback_id": "tender_query_submit",
        "private_metadata": reference,
        "state": {
            "values": {
                "query_body": {"body": {"type": "plain_text_input", "value": text}},
                "query_internal": {"internal": {"selected_options": chosen}},
            }
        },
    }


async def test_it_keeps_an_internal_modal_note_from_anna_and_does_not_open_the_module(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # rule M2: a note is no query, Anna still cannot start the conversation
    answer = await slack_request.send_view_submission(
        BERND, query_submission(tender.reference, "Makler vorher anrufen", internal=True)
    )
    assert answer.status == 200
    [note] = await bot_replies(slack, tender.backoffice, 1)
    assert "🔒 Interne Notiz" in block_text(note, NOTES_BLOCK)
    [stored_note] = await settled(sessions, 1)
    assert (stored_note.internal, stored_note.source_ts, stored_note.mirror_ts) == (
        True,
        note["ts"],
        None,
    )
    await write(slack, slack_request, ANNA, tender.broker, "Hallo?")
    assert (await ephemeral_for(slack, ANNA))["text"] == BROKER_CANNOT_OPEN
    assert [
        m for m in replies(slack, tender.broker) if m.get("bot_id")
    ] == []  # nothing reached Anna
    async with sessions() as session:
        assert (
            await session.scalar(
                select(func.count())
                .select_from(QueueRow)
                .where(QueueRow.kind.in_(("email", "slack")))
            )
            == 0
        )


async def test_it_opens_the_internal_note_modal_from_the_message_shortcut(
    tender: TenderThreads, slack: LocalSlack, slack_request: SignedSender
) -> None:
    ts = await bernd_asks(slack, slack_request, tender)
    shortcut = {
        "type": "message_action",
        "callback_id": "tender_internal_note",
        "channel": {"id": tender.backoffice.channel, "name": "backoffice"},
        "message": {"type": "message", "user": BERND, "ts": ts, "thread_ts": tender.backoffice.ts},
        "message_ts": ts,
    }
    assert (await slack_request.send_action(BERND, shortcut)).status == 200
    [opened] = await slack.wait_for_calls("views.open")
    view = opened.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert view["private_metadata"] == tender.reference
    checkbox = block(view, INTERNAL_BLOCK)["element"]
    assert checkbox["initial_options"] == checkbox["options"]

    elsewhere = {**shortcut, "message": {"type": "message", "user": BERND, "ts": "1700000000.1"}}
    await slack_request.send_action(BERND, elsewhere)
    note = await ephemeral_for(slack, BERND)
    assert "Thread einer Ausschreibungskarte" in note["text"]


async def test_it_tells_anna_when_her_file_cannot_be_fetched_and_stores_nothing(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await bernd_asks(slack, slack_request, tender)
    shared = slack.add_file("foto.jpg", b"\xff\xd8 jpeg", "image/jpeg", user=ANNA)
    del slack.state.files[shared["id"]]  # gone from Slack before the app fetches it
    await write(slack, slack_request, ANNA, tender.broker, "Foto anbei", files=[shared])
    note = await ephemeral_for(slack, ANNA)
    assert note["text"].startswith("Die Datei „foto.jpg“ konnte nicht von Slack geladen werden.")
    assert [m.author_slack_id for m in await stored(sessions)] == [BERND]


async def test_it_reshares_a_file_whose_upload_failed_without_posting_the_text_twice(
    tender: TenderThreads,
    app: AsyncApp,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await bernd_asks(slack, slack_request, tender)
    await settled(sessions, 1)
    content = b"Schadenliste"
    shared = slack.add_file("liste.txt", content, "text/plain", user=ANNA)
    slack.fail_next("files.getUploadURLExternal", error="internal_error")
    await write(slack, slack_request, ANNA, tender.broker, "Liste anbei", files=[shared])
    assert (await ephemeral_for(slack, ANNA))["text"] == NOT_DELIVERED_YET
    [_bernds, annas] = await stored(sessions)
    assert annas.delivery_state == "pending" and annas.mirror_ts is not None
    due = await next_attempt(sessions, annas.id)
    assert await deliver_pending(sessions, app.client, due) == 1
    texts = [m for m in replies(slack, tender.backoffice) if m.get("username")]
    assert [m["text"] for m in texts] == ["Anna Adler (Vermittler): Liste anbei"]
    [completed] = slack.calls("files.completeUploadExternal")
    [file_id] = [item["id"] for item in json.loads(completed.params["files"])]
    assert slack.file_content(file_id) == content


async def test_it_redoes_everything_when_slack_retries_an_event_that_crashed_before_commit(
    tender: TenderThreads,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
) -> None:
    # The database refuses the write mid-handling, as if the process died before the commit:
    # the event's claim is rolled back with it, so Slack's retry is handled in full.
    postgres = engine.dialect.name == "postgresql"
    async with engine.begin() as connection:
        if postgres:
            await connection.execute(
                text(
                    "CREATE FUNCTION simulated_crash() RETURNS trigger LANGUAGE plpgsql "
                    "AS $$ BEGIN RAISE EXCEPTION 'simulated crash'; END $$"
                )
            )
            await connection.execute(
                text(
                    "CREATE TRIGGER simulated_crash BEFORE INSERT ON messages "
                    "FOR EACH ROW EXECUTE FUNCTION simulated_crash()"
                )
            )
        else:
            await connection.execute(
                text(
                    "CREATE TRIGGER simulated_crash BEFORE INSERT ON messages "
                    "BEGIN SELECT RAISE(ABORT, 'simulated crash'); END"
                )
            )
    try:
        ts = await write(slack, slack_request, BERND, tender.backoffice, "Baujahr?", event_id="EvC")
        await ephemeral_for(slack, BERND)  # the app's apology for the failure
    finally:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "DROP TRIGGER simulated_crash ON messages"
                    if postgres
                    else "DROP TRIGGER simulated_crash"
                )
            )
            if postgres:
                await connection.execute(text("DROP FUNCTION simulated_crash()"))
    assert await stored(sessions) == []
    event = thread_message(BERND, tender.backoffice, "Baujahr?", ts)
    assert (await slack_request.send_event(event, event_id="EvC", retry_num=1)).status == 200
    [mirror] = await bot_replies(slack, tender.broker, 1)
    assert "Baujahr?" in mirror["text"]
    [message] = await settled(sessions, 1)
    assert message.mirror_ts == mirror["ts"]
