"""The message module shown as two Slack threads: who may write where, and delivery bookkeeping.

Every message is stored first (with the inbound event's claim, in one transaction) and only
then shown on the other side. A message stays ``pending`` until Slack shows what the store
holds: its mirror post, its edit or its deletion. Each of those is a row of the one queue
(``store.queue``, kind ``thread``) written in the same transaction, with the thread's
ordering key, so a thread's posts arrive in the order written and two workers never post
the same message; a worker that dies mid-delivery only delays it until its lease runs out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import and_, case, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload

from store.actors import Actor
from store.conversation import (
    MessageDraft,
    NewAttachment,
    delete_message,
    edit_message,
    prepare_message,
    store_message,
)
from store.db import take_write_turn
from store.errors import AccessDenied
from store.models import Attachment, Broker, Conversation, Message, Tender, ThreadLink
from store.tender_queries import get_tender_without_offers
from store.threads import BACKOFFICE, CardSide, queue_message_sync, sync_rows_of

logger = logging.getLogger(__name__)

Side = CardSide

PENDING = "pending"
DELIVERED = "delivered"
NOT_NEEDED = "not_needed"

INTERNAL_PREFIX = "intern:"

BACKOFFICE_THREAD_ONLY = (
    "In diesem Thread schreibt nur das Backoffice. Ihre Nachricht wurde nicht gespeichert "
    "und nicht weitergeleitet."
)
BROKER_THREAD_NOT_YOURS = (
    "Dieser Thread gehört nicht zu Ihren Ausschreibungen. Ihre Nachricht wurde nicht "
    "gespeichert und nicht weitergeleitet."
)
BACKOFFICE_IN_BROKER_THREAD = (
    "Dies ist der Thread des Vermittlers. Bitte schreiben Sie Rückfragen im Thread der "
    "Ausschreibung im Backoffice-Kanal; Ihre Nachricht wurde nicht weitergeleitet."
)


def other_side(side: Side) -> Side:
    return "broker" if side == "backoffice" else "backoffice"


def split_internal(body: str) -> tuple[str, bool]:
    """A backoffice message starting with ``intern:`` is a note that never reaches the broker."""
    stripped = body.lstrip()
    if stripped[: len(INTERNAL_PREFIX)].lower() == INTERNAL_PREFIX:
        return stripped[len(INTERNAL_PREFIX) :].strip(), True
    return body, False


# -- threads -------------------------------------------------------------------------------


def _check_side(actor: Actor, link: ThreadLink, tender: Tender) -> None:
    if link.side == "backoffice" and not actor.is_backoffice:
        raise AccessDenied(BACKOFFICE_THREAD_ONLY)
    if link.side == "broker":
        if actor.is_backoffice:
            raise AccessDenied(BACKOFFICE_IN_BROKER_THREAD)
        if actor.broker_id != tender.broker_id:
            raise AccessDenied(BROKER_THREAD_NOT_YOURS)


async def check_side(session: AsyncSession, actor: Actor, link: ThreadLink) -> Tender:
    """The backoffice writes under its card, the owning broker under theirs; no one else."""
    tender = await session.get(Tender, link.tender_id)
    assert tender is not None  # foreign key
    _check_side(actor, link, tender)
    return tender


@dataclass(frozen=True)
class ThreadPost:
    """A checked thread message and where it is shown; nothing written yet."""

    draft: MessageDraft
    origin: Place | None  # None only for a message not written in Slack, without its card
    target: Place | None  # None while the other side's card was never posted


async def prepare_in_thread(
    session: AsyncSession,
    actor: Actor,
    link: ThreadLink,
    body: str,
    *,
    source_ts: str,
    attachments: Sequence[NewAttachment] = (),
) -> ThreadPost:
    """Check a message written in one of the tender's threads (M1–M3, M5); reads only.

    Raises AccessDenied for a thread that is not the author's to write in (e.g. broker Carla
    in a thread of Anna's card), and the conversation's own refusals (M2, closed tender).
    """
    other_card = aliased(ThreadLink)
    # One statement for all the checks and the delivery need: the tender with its product
    # line (the N2 e-mail names it), its broker, its conversation and the other card.
    row = (
        await session.execute(
            select(Tender, Broker, Conversation, other_card)
            .join(Broker, Broker.id == Tender.broker_id)
            .outerjoin(Conversation, Conversation.tender_id == Tender.id)
            .outerjoin(
                other_card,
                and_(other_card.tender_id == Tender.id, other_card.side != link.side),
            )
            .options(joinedload(Tender.product_line, innerjoin=True))
            .where(Tender.id == link.tender_id)
        )
    ).one()
    tender, broker, conversation, target = row
    _check_side(actor, link, tender)
    internal = False
    if actor.is_backoffice:
        body, internal = split_internal(body)
    draft = await prepare_message(
        session,
        actor,
        tender,
        body,
        internal=internal,
        source_channel=link.channel,
        source_ts=source_ts,
        attachments=attachments,
        known=(broker, conversation),
        broker_thread=link.side == "broker" or target is not None,
    )
    return ThreadPost(
        draft=draft,
        origin=Place(link.channel, link.ts),
        target=Place(target.channel, target.ts) if target is not None else None,
    )


async def post_in_thread(
    session: AsyncSession,
    actor: Actor,
    link: ThreadLink,
    body: str,
    *,
    source_ts: str,
    attachments: Sequence[NewAttachment] = (),
) -> Message:
    """``prepare_in_thread`` and ``store_message`` in one call."""
    post = await prepare_in_thread(
        session, actor, link, body, source_ts=source_ts, attachments=attachments
    )
    return await store_message(session, post.draft)


async def store_for_delivery(session: AsyncSession, post: ThreadPost) -> list[int]:
    """Store a checked thread message; returns its queue rows for the delivery right after
    the commit (none for an internal note: it stays where it was written)."""
    message = await store_message(session, post.draft)
    return [] if message.internal else await sync_rows_of(session, message.id)


async def post_from_modal(
    session: AsyncSession, actor: Actor, reference: str, body: str, *, internal: bool
) -> Message:
    """A backoffice query or note written in the modal: it still has to appear in the
    backoffice thread, so even an internal note waits for delivery there."""
    tender = await get_tender_without_offers(session, actor, reference)
    draft = await prepare_message(session, actor, tender, body, internal=internal)
    await take_write_turn(session)
    message = await store_message(session, draft)
    message.delivery_state = PENDING
    if internal:
        await queue_message_sync(session, message.id, tender.id, BACKOFFICE)
    await session.flush()
    return message


async def _source_message(
    session: AsyncSession, actor: Actor, channel: str, ts: str
) -> Message | None:
    message = await session.scalar(
        select(Message).where(Message.source_channel == channel, Message.source_ts == ts)
    )
    if message is None or message.author_slack_id != actor.slack_user_id:
        return None
    return message


async def _request_sync(session: AsyncSession, message: Message) -> None:
    """Slack must show the changed message: one more queue row behind the ones before it
    (a delivery running right now notices the change and leaves the message pending)."""
    if message.internal and message.source_ts is not None:
        return
    message.delivery_state = PENDING
    tender_id = await session.scalar(
        select(Conversation.tender_id).where(Conversation.id == message.conversation_id)
    )
    assert tender_id is not None  # foreign key
    side: Side = "broker" if message.role == "backoffice" and not message.internal else "backoffice"
    await queue_message_sync(session, message.id, tender_id, side)


async def edit_in_thread(
    session: AsyncSession, actor: Actor, channel: str, ts: str, body: str
) -> Message | None:
    """An edit of a stored thread message; None when there is nothing of ours to edit."""
    message = await _source_message(session, actor, channel, ts)
    if message is None or message.deleted_at is not None:
        return None
    new_body = split_internal(body)[0] if message.internal else body
    if new_body.strip() == message.body:
        return None
    await edit_message(session, actor, message.id, new_body)
    await _request_sync(session, message)
    await session.flush()
    return message


async def delete_in_thread(
    session: AsyncSession, actor: Actor, channel: str, ts: str
) -> Message | None:
    message = await _source_message(session, actor, channel, ts)
    if message is None or message.deleted_at is not None:
        return None
    await delete_message(session, actor, message.id)
    await _request_sync(session, message)
    await session.flush()
    return message


# -- delivery ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    channel: str
    thread_ts: str


@dataclass(frozen=True)
class FileToShare:
    attachment_id: int
    name: str
    mimetype: str
    content: bytes
    mirror_file_id: str | None


@dataclass(frozen=True)
class DeliveryJob:
    """A claimed message as plain data, so Slack is called with no session open."""

    message_id: int
    reference: str
    role: str
    author_slack_id: str
    author_name: str
    body: str
    internal: bool
    edited: bool
    deleted: bool
    source_channel: str | None
    source_ts: str | None
    mirror_ts: str | None
    origin: Place | None
    target: Place | None
    files: tuple[FileToShare, ...]
    failed_before: bool
    via: str | None = None


async def delivery_job(session: AsyncSession, message_id: int) -> DeliveryJob:
    """The message, its tender's reference and both card threads in one statement; the
    attachments only when it has any."""
    backoffice_link = aliased(ThreadLink)
    broker_link = aliased(ThreadLink)
    row = (
        await session.execute(
            select(
                Message,
                Tender.reference,
                backoffice_link,
                broker_link,
                exists().where(Attachment.message_id == Message.id),
            )
            .join(Conversation, Conversation.id == Message.conversation_id)
            .join(Tender, Tender.id == Conversation.tender_id)
            .outerjoin(
                backoffice_link,
                and_(backoffice_link.tender_id == Tender.id, backoffice_link.side == "backoffice"),
            )
            .outerjoin(
                broker_link,
                and_(broker_link.tender_id == Tender.id, broker_link.side == "broker"),
            )
            .where(Message.id == message_id)
            .execution_options(populate_existing=True)
        )
    ).one()
    message, reference, backoffice, broker, has_files = row
    links: dict[Side, ThreadLink | None] = {"backoffice": backoffice, "broker": broker}
    origin_side: Side = "backoffice" if message.role == "backoffice" else "broker"
    origin = links[origin_side]
    target = links[other_side(origin_side)]
    attachments: Sequence[Attachment] = ()
    if has_files:
        attachments = (
            await session.scalars(
                select(Attachment)
                .where(Attachment.message_id == message.id)
                .order_by(Attachment.id)
            )
        ).all()
    return DeliveryJob(
        message_id=message.id,
        reference=reference,
        role=message.role,
        author_slack_id=message.author_slack_id,
        author_name=message.author_name,
        body=message.body,
        internal=message.internal,
        edited=message.edited_at is not None,
        deleted=message.deleted_at is not None,
        source_channel=message.source_channel,
        source_ts=message.source_ts,
        mirror_ts=message.mirror_ts,
        origin=Place(origin.channel, origin.ts) if origin else None,
        target=Place(target.channel, target.ts) if target else None,
        files=tuple(
            FileToShare(
                attachment_id=attachment.id,
                name=attachment.name,
                mimetype=attachment.mimetype,
                content=attachment.content or b"",
                mirror_file_id=attachment.mirror_file_id,
            )
            for attachment in attachments
        ),
        failed_before=message.last_delivery_error is not None,
        via=message.via,
    )


async def record_origin_post(session: AsyncSession, message_id: int, place: Place, ts: str) -> None:
    """A modal message got its post in the backoffice thread: that post is its source."""
    await take_write_turn(session)
    await session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(source_channel=place.channel, source_ts=ts)
    )


async def record_mirror_post(session: AsyncSession, message_id: int, place: Place, ts: str) -> None:
    await take_write_turn(session)
    await session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(mirror_channel=place.channel, mirror_ts=ts)
    )


async def record_file_share(session: AsyncSession, attachment_id: int, file_id: str) -> None:
    await take_write_turn(session)
    await session.execute(
        update(Attachment).where(Attachment.id == attachment_id).values(mirror_file_id=file_id)
    )


async def mark_delivered(
    session: AsyncSession,
    job: DeliveryJob,
    *,
    mirror: tuple[Place, str] | None = None,
) -> bool:
    """Delivered, unless the message was edited or deleted meanwhile: then it stays pending
    for the queue row that change wrote. ``mirror`` is a post made in this delivery and not
    yet recorded. Returns whether Slack now shows exactly what the store holds.

    One statement either way: on SQLite the write lock is held for nothing else.
    """
    unchanged = and_(
        Message.body == job.body,
        Message.deleted_at.is_not(None) if job.deleted else Message.deleted_at.is_(None),
    )
    values: dict[str, object] = {
        "delivery_state": case((unchanged, DELIVERED), else_=Message.delivery_state),
        "last_delivery_error": case((unchanged, None), else_=Message.last_delivery_error),
    }
    if mirror is not None:
        place, ts = mirror
        values |= {"mirror_channel": place.channel, "mirror_ts": ts}
    await take_write_turn(session)
    result = await session.execute(
        update(Message)
        .where(Message.id == job.message_id)
        .values(values)
        .returning(Message.delivery_state)
        .execution_options(synchronize_session=False)
    )
    return bool(result.one().delivery_state == DELIVERED)


async def note_failure(session: AsyncSession, message_id: int, error: str) -> None:
    """Why Slack does not show the message yet (the queue row keeps the retry schedule)."""
    await take_write_turn(session)
    await session.execute(
        update(Message).where(Message.id == message_id).values(last_delivery_error=error[:2000])
    )


async def undelivered(session: AsyncSession) -> list[Message]:
    """Messages Slack does not show yet, oldest first: for operators and tests."""
    return list(
        await session.scalars(
            select(Message).where(Message.delivery_state == PENDING).order_by(Message.id)
        )
    )
