"""Delivery bookkeeping of mirrored thread messages: what a worker is to show, and what
Slack shows now.

A message stays ``pending`` until Slack shows what the store holds: its mirror post, its
edit or its deletion. The queue rows that ask for it (``store.threads``, kind ``thread``)
carry the retry schedule; the message keeps its mirror's coordinates and the last error.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import and_, case, exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from store.db import take_write_turn, transaction
from store.models import Attachment, Conversation, Message, Tender, ThreadLink
from store.models.status import DeliveryState
from store.threads import CardSide, Place, other_side


@asynccontextmanager
async def each_statement_alone(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """A session for one read or one write that is atomic by itself (every function below
    is one statement). On PostgreSQL each statement commits on its own, which spares the
    BEGIN and the COMMIT: one round trip instead of three, several times per delivery.
    SQLite keeps a transaction, as its writers take turns per transaction."""
    engine = sessions.kw.get("bind")
    if engine is None or engine.dialect.name != "postgresql":
        async with transaction(sessions) as session:
            yield session
        return
    async with sessions() as session:
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        yield session


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
    links: dict[CardSide, ThreadLink | None] = {"backoffice": backoffice, "broker": broker}
    origin_side: CardSide = "backoffice" if message.role == "backoffice" else "broker"
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
        "delivery_state": case((unchanged, DeliveryState.DELIVERED), else_=Message.delivery_state),
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
    return bool(result.one().delivery_state == DeliveryState.DELIVERED)


async def note_failure(session: AsyncSession, message_id: int, error: str) -> None:
    """Why Slack does not show the message yet (the queue row keeps the retry schedule)."""
    await take_write_turn(session)
    await session.execute(
        update(Message).where(Message.id == message_id).values(last_delivery_error=error[:2000])
    )
