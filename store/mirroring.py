"""Writing in the tender threads: each use case checks, claims the Slack event and stores the
message, its edit or its deletion with its queue rows, in one transaction of its own.

The other side is shown later, from the stored row (``store.thread_delivery``); the queue
rows written here keep a thread's posts in the order written. A refusal comes back as a
code (``store.thread_access``, or the conversation's ``DomainError``) for the handler to
say in German; a retried Slack event comes back as None and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased, joinedload

from store.actors import Actor, require_backoffice, resolve_actor
from store.conversation import (
    MessageDraft,
    NewAttachment,
    delete_message,
    edit_message,
    prepare_message,
    store_message_queued,
)
from store.db import take_write_turn, transaction
from store.errors import DomainError, NotABroker
from store.events import claim_event
from store.models import Broker, Conversation, Message, Tender, ThreadLink
from store.models.status import DeliveryState
from store.queue import enqueue_rows
from store.tender_queries import get_tender_without_offers
from store.thread_access import thread_refusal
from store.threads import (
    BACKOFFICE,
    BROKER,
    CardSide,
    Place,
    queue_message_sync,
    waiting_before,
)

INTERNAL_PREFIX = "intern:"


def split_internal(body: str) -> tuple[str, bool]:
    """A backoffice message starting with ``intern:`` is a note that never reaches the broker."""
    stripped = body.lstrip()
    if stripped[: len(INTERNAL_PREFIX)].lower() == INTERNAL_PREFIX:
        return stripped[len(INTERNAL_PREFIX) :].strip(), True
    return body, False


# -- a message written in a thread ---------------------------------------------------------


@dataclass(frozen=True)
class WrittenInThread:
    """A message someone wrote in a Slack thread, as the handler parsed it."""

    event_id: str
    channel: str
    thread_ts: str
    ts: str
    user: str
    text: str
    # The writer's Slack name: backoffice members are not in the store ("" if unknown).
    name: str = ""
    attachments: tuple[NewAttachment, ...] = ()


@dataclass(frozen=True)
class Stored:
    message_id: int
    # Queue rows to deliver right after the commit; none for an internal note (M5).
    rows: tuple[int, ...]
    # Earlier messages of the thread are still on their way: this one follows them (the
    # worker delivers it), and ``behind_failed`` tells whether one of those is held up.
    behind: int = 0
    behind_failed: bool = False


@dataclass(frozen=True)
class Refused:
    """Nothing was stored. ``code``: a ``store.thread_access`` code or the ``error``'s."""

    code: str
    reference: str
    error: DomainError | None = None
    # Queue rows of the answer in the thread (rule M4), written with the event's claim.
    rows: tuple[int, ...] = ()


# The queue rows (``store.queue.row_values``) that answer a refusal in the thread itself, if
# any: built by the caller, which knows the wording.
Answer = Callable[[Refused], Sequence[dict[str, Any]]]


@dataclass(frozen=True)
class ThreadPost:
    """A checked thread message and where it is shown; nothing written yet."""

    draft: MessageDraft
    origin: Place | None  # None only for a message not written in Slack, without its card
    target: Place | None  # None while the other side's card was never posted


@dataclass(frozen=True)
class _Thread:
    """Everything the checks and the delivery need, read in one statement."""

    link: ThreadLink
    tender: Tender
    broker: Broker
    conversation: Conversation | None
    other_card: ThreadLink | None
    writer: Broker | None


# Built once: an alias made per call costs more CPU than the query's round trip, as
# SQLAlchemy works out the alias's columns again for every new one; a kept statement also
# keeps its cache key.
_OTHER_CARD = aliased(ThreadLink)
_WRITER = aliased(Broker)
_THREAD_AT = (
    select(ThreadLink, Tender, Broker, Conversation, _OTHER_CARD)
    .join(Tender, Tender.id == ThreadLink.tender_id)
    .join(Broker, Broker.id == Tender.broker_id)
    .outerjoin(Conversation, Conversation.tender_id == Tender.id)
    .outerjoin(
        _OTHER_CARD,
        and_(_OTHER_CARD.tender_id == Tender.id, _OTHER_CARD.side != ThreadLink.side),
    )
    .options(joinedload(Tender.product_line, innerjoin=True))
    .where(ThreadLink.channel == bindparam("channel"), ThreadLink.ts == bindparam("ts"))
)
_THREAD_AND_WRITER_AT = _THREAD_AT.add_columns(_WRITER).outerjoin(
    _WRITER, _WRITER.slack_user_id == bindparam("user")
)


async def _thread_at(
    session: AsyncSession, channel: str, thread_ts: str, user: str, *, backoffice: bool
) -> _Thread | None:
    """The card thread at (channel, thread_ts) with its tender (and product line: the N2
    e-mail names it), the tender's broker, conversation and other card, and the writer's
    broker row; None for a thread that is not under a tender card."""
    if backoffice:
        row = (await session.execute(_THREAD_AT, {"channel": channel, "ts": thread_ts})).first()
    else:
        row = (
            await session.execute(
                _THREAD_AND_WRITER_AT, {"channel": channel, "ts": thread_ts, "user": user}
            )
        ).first()
    if row is None:
        return None
    return _Thread(
        link=row[0],
        tender=row[1],
        broker=row[2],
        conversation=row[3],
        other_card=row[4],
        writer=None if backoffice else cast(Any, row)[5],
    )


async def _checked(
    session: AsyncSession, thread: _Thread, written: WrittenInThread, backoffice: bool
) -> ThreadPost | Refused:
    """Rules M2, M3, M5 and the closed tender, on what ``_thread_at`` read; reads nothing."""
    link, tender = thread.link, thread.tender
    if backoffice:
        actor = Actor(written.user, "backoffice", name=written.name or written.user)
    elif thread.writer is not None:
        actor = Actor(written.user, "broker", broker_id=thread.writer.id, name=thread.writer.name)
    else:
        try:
            actor = await resolve_actor(session, written.user, ())
        except NotABroker as error:
            return Refused(error.code, tender.reference, error)
    code = thread_refusal(actor, link.side, tender.broker_id)
    if code is not None:
        return Refused(code, tender.reference)
    body, internal = split_internal(written.text) if backoffice else (written.text, False)
    try:
        draft = await prepare_message(
            session,
            actor,
            tender,
            body,
            internal=internal,
            source_channel=link.channel,
            source_ts=written.ts,
            attachments=written.attachments,
            known=(thread.broker, thread.conversation),
            broker_thread=link.side == BROKER or thread.other_card is not None,
        )
    except DomainError as error:
        return Refused(error.code, tender.reference, error)
    other = thread.other_card
    return ThreadPost(
        draft=draft,
        origin=Place(link.channel, link.ts),
        target=Place(other.channel, other.ts) if other is not None else None,
    )


async def check_in_thread(
    sessions: async_sessionmaker[AsyncSession],
    written: WrittenInThread,
    backoffice_users: Collection[str],
) -> Refused | bool:
    """Whether ``write_in_thread`` would take the message, without writing: asked before
    files are loaded from Slack. False for a thread that is not under a tender card."""
    backoffice = written.user in backoffice_users
    async with sessions() as session:
        thread = await _thread_at(
            session, written.channel, written.thread_ts, written.user, backoffice=backoffice
        )
        if thread is None:
            return False
        checked = await _checked(session, thread, written, backoffice)
    return checked if isinstance(checked, Refused) else True


async def write_in_thread(
    sessions: async_sessionmaker[AsyncSession],
    written: WrittenInThread,
    backoffice_users: Collection[str],
    answer: Answer | None = None,
) -> Stored | Refused | None:
    """Store a message written in one of the tender's threads (M1–M3, M5) with its queue
    row, and claim its Slack event, in one transaction.

    None for a thread that is not under a tender card and for a retried event. A refused
    message is claimed too, so Slack's retry is not refused twice; ``answer``'s rows for
    it (the closed tender's notice) are written with that claim, so they go out once. The
    checks only read and come first, so on SQLite the single write lock is held only for
    the last statements.
    """
    backoffice = written.user in backoffice_users
    async with transaction(sessions) as session:
        thread = await _thread_at(
            session, written.channel, written.thread_ts, written.user, backoffice=backoffice
        )
        if thread is None:
            return None
        checked = await _checked(session, thread, written, backoffice)
        await take_write_turn(session)
        if not await claim_event(session, written.event_id):
            return None
        if isinstance(checked, Refused):
            answered = answer(checked) if answer is not None else ()
            if not answered:
                return checked
            return replace(checked, rows=tuple(await enqueue_rows(session, answered)))
        message, rows = await store_message_queued(session, checked.draft)
        if not rows:
            return Stored(message.id, ())
        waiting = await waiting_before(session, rows[0])
        return Stored(message.id, tuple(rows), waiting.before, waiting.failed)


async def refuse_in_thread(sessions: async_sessionmaker[AsyncSession], event_id: str) -> bool:
    """A message refused before the store saw it (a file Slack would not hand over): its
    event is claimed alone, so a retry is a no-op. False for a retry."""
    async with transaction(sessions) as session:
        await take_write_turn(session)
        return await claim_event(session, event_id)


async def store_for_delivery(session: AsyncSession, post: ThreadPost) -> list[int]:
    """Store a checked thread message; returns its queue rows for the delivery right after
    the commit (none for an internal note: it stays where it was written)."""
    _message, rows = await store_message_queued(session, post.draft)
    return rows


# -- an edit or a deletion in a thread ------------------------------------------------------


@dataclass(frozen=True)
class ChangedInThread:
    """A thread message edited (``text``) or deleted (``text`` None) in Slack."""

    event_id: str
    channel: str
    ts: str
    user: str
    text: str | None


async def change_in_thread(
    sessions: async_sessionmaker[AsyncSession],
    change: ChangedInThread,
    backoffice_users: Collection[str],
) -> tuple[int, ...]:
    """Store an edit or deletion of a stored thread message with its queue row and claim
    its event, in one transaction; the history keeps the earlier text (M4). Returns the
    rows to deliver after the commit: none when there is nothing of the writer's to change."""
    async with transaction(sessions) as session:
        await take_write_turn(session)
        if not await claim_event(session, change.event_id):
            return ()
        try:
            actor = await resolve_actor(session, change.user, backoffice_users)
        except NotABroker:
            return ()
        message = await _source_message(session, actor, change.channel, change.ts)
        if message is None or message.deleted_at is not None:
            return ()
        if change.text is None:
            await delete_message(session, actor, message.id)
        else:
            body = split_internal(change.text)[0] if message.internal else change.text
            if body.strip() == message.body:
                return ()
            await edit_message(session, actor, message.id, body)
        row = await _request_sync(session, message)
        return () if row is None else (row,)


async def _source_message(
    session: AsyncSession, actor: Actor, channel: str, ts: str
) -> Message | None:
    message = await session.scalar(
        select(Message).where(Message.source_channel == channel, Message.source_ts == ts)
    )
    if message is None or message.author_slack_id != actor.slack_user_id:
        return None
    return message


async def _request_sync(session: AsyncSession, message: Message) -> int | None:
    """Slack must show the changed message: one more queue row behind the ones before it
    (a delivery running right now notices the change and leaves the message pending)."""
    if message.internal and message.source_ts is not None:
        return None
    message.delivery_state = DeliveryState.PENDING
    tender_id = await session.scalar(
        select(Conversation.tender_id).where(Conversation.id == message.conversation_id)
    )
    assert tender_id is not None  # foreign key
    side: CardSide = BROKER if message.role == "backoffice" and not message.internal else BACKOFFICE
    row = await queue_message_sync(session, message.id, tender_id, side)
    await session.flush()
    return row


# -- a query or note written in the modal ----------------------------------------------------


@dataclass(frozen=True)
class AskedInModal:
    """A backoffice query (or internal note) written in the "Rückfrage stellen" modal."""

    user: str
    name: str
    reference: str
    text: str
    internal: bool


async def ask_in_modal(
    sessions: async_sessionmaker[AsyncSession],
    asked: AskedInModal,
    backoffice_users: Collection[str],
    what: str,
) -> Stored:
    """Store the modal's message with its queue rows in one transaction; it still has to
    appear in the backoffice thread, so even an internal note waits for delivery there.

    Raises the DomainError that refuses it (``what`` names the feature in that refusal).
    """
    async with transaction(sessions) as session:
        actor = await resolve_actor(session, asked.user, backoffice_users)
        require_backoffice(actor, what)
        actor = Actor(actor.slack_user_id, actor.role, name=asked.name or asked.user)
        tender = await get_tender_without_offers(session, actor, asked.reference)
        draft = await prepare_message(session, actor, tender, asked.text, internal=asked.internal)
        await take_write_turn(session)
        message, rows = await store_message_queued(session, draft)
        message.delivery_state = DeliveryState.PENDING
        if asked.internal:
            row = await queue_message_sync(session, message.id, tender.id, BACKOFFICE)
            rows = [] if row is None else [row]
        await session.flush()
        return Stored(message.id, tuple(rows))
