"""The message module shown as two Slack threads: who may write where, and delivery bookkeeping.

Every message is stored first (with the inbound event's claim, in one transaction) and only
then shown on the other side. A message stays ``pending`` until Slack shows what the store
holds: its mirror post, its edit or its deletion. Delivery claims rows with one atomic
``UPDATE … RETURNING`` and a lease, so two workers never post the same message, and a worker
that dies mid-delivery only delays it until the lease runs out.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, and_, case, event, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction, aliased, joinedload

from store.actors import Actor
from store.conversation import (
    MessageDraft,
    NewAttachment,
    delete_message,
    edit_message,
    prepare_message,
    store_message,
)
from store.errors import AccessDenied
from store.models import Attachment, Broker, Conversation, Message, Tender, ThreadLink
from store.tenders import get_tender_without_offers
from store.threads import CardSide
from store.types import utcnow
from store.wake import THREAD_DELIVERY, wake_on_commit

logger = logging.getLogger(__name__)

Side = CardSide

PENDING = "pending"
DELIVERED = "delivered"
NOT_NEEDED = "not_needed"

# Longer than any queue of short write sections; past it the writer falls back to SQLite's
# own busy wait instead of hanging on a turn that a crashed task never gave back.
WRITE_TURN_TIMEOUT = 10.0
# A claimed message is invisible to other workers this long; longer than any Slack call chain.
LEASE = timedelta(seconds=60)
FIRST_RETRY = timedelta(seconds=10)
MAX_RETRY = timedelta(hours=1)
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


def retry_delay(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s … capped at an hour: Slack outages pass, nothing is given up."""
    exponent = min(max(attempts - 1, 0), 16)
    delay: timedelta = FIRST_RETRY * (1 << exponent)
    return min(delay, MAX_RETRY)


def split_internal(body: str) -> tuple[str, bool]:
    """A backoffice message starting with ``intern:`` is a note that never reaches the broker."""
    stripped = body.lstrip()
    if stripped[: len(INTERNAL_PREFIX)].lower() == INTERNAL_PREFIX:
        return stripped[len(INTERNAL_PREFIX) :].strip(), True
    return body, False


# -- write turns -----------------------------------------------------------------------------

_write_turns: weakref.WeakKeyDictionary[Engine, tuple[asyncio.AbstractEventLoop, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


_HOLDS_TURN = "tenderbot_holds_write_turn"


def _turn_lock(engine: Engine) -> asyncio.Lock:
    loop = asyncio.get_running_loop()
    known = _write_turns.get(engine)
    if known is None or known[0] is not loop:
        known = (loop, asyncio.Lock())
        _write_turns[engine] = known
    return known[1]


async def take_write_turn(session: AsyncSession) -> None:
    """On SQLite, queue (in this process) for the single write lock before the first write.

    Call it where the transaction's writes begin; the turn passes on when the transaction
    ends. SQLite's busy handler retries with sleeps growing to 100 ms and lets newcomers
    overtake, so under load a few writers waited seconds (bench/mirror.py: p99 ~1.6 s);
    waiting in line keeps every wait about one short write section per writer ahead.
    PostgreSQL locks rows, not the database: nothing to wait for there.
    """
    engine = session.get_bind().engine
    if engine.dialect.name != "sqlite" or session.info.get(_HOLDS_TURN):
        return
    lock = _turn_lock(engine)
    try:
        async with asyncio.timeout(WRITE_TURN_TIMEOUT):
            await lock.acquire()
    except TimeoutError:
        logger.warning(
            "no SQLite write turn within %.0f s; writing without one", WRITE_TURN_TIMEOUT
        )
        return
    session.info[_HOLDS_TURN] = True

    def pass_turn(ended: Session, transaction: SessionTransaction) -> None:
        # The outermost transaction only: a savepoint ending does not release SQLite's lock.
        if transaction.parent is None and ended.info.pop(_HOLDS_TURN, False):
            lock.release()

    event.listen(session.sync_session, "after_transaction_end", pass_turn)


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


async def store_for_delivery(
    session: AsyncSession, post: ThreadPost, now: datetime
) -> DeliveryJob | None:
    """Store a checked thread message already leased for the delivery right after the
    commit, as ``claim_message`` would (nobody else can see the row before the commit).

    Returns that delivery, built from what was just written (no read after the commit), or
    None for an internal note: it stays where it was written.
    """
    message = await store_message(session, post.draft, delivery_lease=now + LEASE)
    if message.internal:
        return None
    return DeliveryJob(
        message_id=message.id,
        reference=post.draft.tender.reference,
        role=message.role,
        author_slack_id=message.author_slack_id,
        author_name=message.author_name,
        body=message.body,
        internal=False,
        edited=False,
        deleted=False,
        source_channel=message.source_channel,
        source_ts=message.source_ts,
        mirror_ts=None,
        origin=post.origin,
        target=post.target,
        files=tuple(
            FileToShare(
                attachment_id=attachment.id,
                name=attachment.name,
                mimetype=attachment.mimetype,
                content=attachment.content or b"",
                mirror_file_id=None,
            )
            for attachment in message.attachments
        ),
        failed_before=False,
        via=message.via,
    )


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
    message.next_delivery_at = utcnow()
    wake_on_commit(session, THREAD_DELIVERY)
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


def _request_sync(message: Message) -> None:
    """Slack must show the changed message. A pending message (not yet posted, or being
    posted right now) keeps its lease: the running delivery notices the change itself."""
    if message.internal and message.source_ts is not None:
        return
    if message.delivery_state != PENDING:
        message.delivery_state = PENDING
        message.next_delivery_at = utcnow()
        message.delivery_attempts = 0
        message.last_delivery_error = None


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
    _request_sync(message)
    await session.flush()
    return message


async def delete_in_thread(
    session: AsyncSession, actor: Actor, channel: str, ts: str
) -> Message | None:
    message = await _source_message(session, actor, channel, ts)
    if message is None or message.deleted_at is not None:
        return None
    await delete_message(session, actor, message.id)
    _request_sync(message)
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


async def _claim(
    session: AsyncSession, now: datetime, condition: ColumnElement[bool], limit: int
) -> list[int]:
    # SKIP LOCKED (PostgreSQL; SQLite has one writer anyway) lets a second worker pass over
    # rows the first is claiming instead of waiting for them.
    await take_write_turn(session)
    candidates = (
        select(Message.id)
        .where(Message.delivery_state == PENDING, Message.next_delivery_at <= now, condition)
        .order_by(Message.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = await session.scalars(
        update(Message)
        .where(
            Message.id.in_(candidates),
            Message.delivery_state == PENDING,
            Message.next_delivery_at <= now,
        )
        .values(
            next_delivery_at=now + LEASE,
            delivery_attempts=Message.delivery_attempts + 1,
        )
        .returning(Message.id)
        .execution_options(synchronize_session=False)
    )
    return sorted(claimed)


async def claim_due(session: AsyncSession, now: datetime, *, limit: int = 20) -> list[int]:
    """Lease up to ``limit`` messages whose delivery is due; other workers skip them."""
    return await _claim(session, now, Message.id.is_not(None), limit)


async def claim_message(session: AsyncSession, message_id: int, now: datetime) -> bool:
    """Lease one message for the delivery right after the commit that stored or changed it.

    Called in that same transaction it costs no extra commit; False when the message needs
    no delivery or another delivery holds it (which then notices the change itself)."""
    return bool(await _claim(session, now, Message.id == message_id, 1))


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
    now: datetime,
    *,
    mirror: tuple[Place, str] | None = None,
) -> bool:
    """Done, unless the message was edited or deleted meanwhile: then it goes round again
    at once. ``mirror`` is a post made in this delivery and not yet recorded. Returns
    whether Slack now shows exactly what the store holds.

    One statement either way: on SQLite the write lock is held for nothing else.
    """
    unchanged = and_(
        Message.body == job.body,
        Message.deleted_at.is_not(None) if job.deleted else Message.deleted_at.is_(None),
    )
    values: dict[str, object] = {
        "delivery_state": case((unchanged, DELIVERED), else_=Message.delivery_state),
        "next_delivery_at": case((unchanged, None), else_=now),
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
        .returning(Message.next_delivery_at)
        .execution_options(synchronize_session=False)
    )
    # Only a delivered message is left without a next delivery time.
    return result.one().next_delivery_at is None


async def mark_failed(
    session: AsyncSession, message_id: int, error: str, now: datetime
) -> datetime:
    """Keep the message pending and try again later; returns when."""
    await take_write_turn(session)
    attempts = await session.scalar(
        select(Message.delivery_attempts).where(Message.id == message_id)
    )
    due = now + retry_delay(attempts or 1)
    await session.execute(
        update(Message)
        .where(Message.id == message_id)
        .values(next_delivery_at=due, last_delivery_error=error[:2000])
    )
    return due


async def undelivered(session: AsyncSession) -> list[Message]:
    """Messages Slack does not show yet, oldest first: for operators and tests."""
    return list(
        await session.scalars(
            select(Message).where(Message.delivery_state == PENDING).order_by(Message.id)
        )
    )
