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
from typing import cast

from sqlalchemy import Boolean, Table, and_, bindparam, case, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

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


_MESSAGES = cast(Table, Message.__table__)
_LINKS = cast(Table, ThreadLink.__table__)
_BACKOFFICE_LINK = _LINKS.alias("backoffice_link")
_BROKER_LINK = _LINKS.alias("broker_link")
# The message, its tender's reference and both card threads in one statement, built once:
# a Core statement with a bound id costs a fraction of an ORM query made per call, and the
# delivery runs it for every mirrored message.
_DELIVERY_JOB = (
    select(
        _MESSAGES,
        Tender.__table__.c.reference,
        _BACKOFFICE_LINK.c.channel.label("backoffice_channel"),
        _BACKOFFICE_LINK.c.ts.label("backoffice_ts"),
        _BROKER_LINK.c.channel.label("broker_channel"),
        _BROKER_LINK.c.ts.label("broker_ts"),
        exists().where(Attachment.__table__.c.message_id == _MESSAGES.c.id).label("has_files"),
    )
    .select_from(
        _MESSAGES.join(
            Conversation.__table__, Conversation.__table__.c.id == _MESSAGES.c.conversation_id
        )
        .join(Tender.__table__, Tender.__table__.c.id == Conversation.__table__.c.tender_id)
        .outerjoin(
            _BACKOFFICE_LINK,
            and_(
                _BACKOFFICE_LINK.c.tender_id == Tender.__table__.c.id,
                _BACKOFFICE_LINK.c.side == "backoffice",
            ),
        )
        .outerjoin(
            _BROKER_LINK,
            and_(
                _BROKER_LINK.c.tender_id == Tender.__table__.c.id,
                _BROKER_LINK.c.side == "broker",
            ),
        )
    )
    .where(_MESSAGES.c.id == bindparam("message_id"))
)


def _place(channel: str | None, ts: str | None) -> Place | None:
    return Place(channel, ts) if channel is not None and ts is not None else None


async def delivery_job(session: AsyncSession, message_id: int) -> DeliveryJob:
    """The message, its tender's reference and both card threads in one statement; the
    attachments only when it has any."""
    row = (await session.execute(_DELIVERY_JOB, {"message_id": message_id})).one()
    places: dict[CardSide, Place | None] = {
        "backoffice": _place(row.backoffice_channel, row.backoffice_ts),
        "broker": _place(row.broker_channel, row.broker_ts),
    }
    origin_side: CardSide = "backoffice" if row.role == "backoffice" else "broker"
    attachments: Sequence[Attachment] = ()
    if row.has_files:
        attachments = (
            await session.scalars(
                select(Attachment).where(Attachment.message_id == row.id).order_by(Attachment.id)
            )
        ).all()
    return DeliveryJob(
        message_id=row.id,
        reference=row.reference,
        role=row.role,
        author_slack_id=row.author_slack_id,
        author_name=row.author_name,
        body=row.body,
        internal=row.internal,
        edited=row.edited_at is not None,
        deleted=row.deleted_at is not None,
        source_channel=row.source_channel,
        source_ts=row.source_ts,
        mirror_ts=row.mirror_ts,
        origin=places[origin_side],
        target=places[other_side(origin_side)],
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
        failed_before=row.last_delivery_error is not None,
        via=row.via,
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


# Delivered, unless the message was edited or deleted meanwhile (built once; see above).
_DELETED = bindparam("b_deleted", type_=Boolean())
_UNCHANGED = and_(
    _MESSAGES.c.body == bindparam("b_body"),
    or_(
        and_(_DELETED, _MESSAGES.c.deleted_at.is_not(None)),
        and_(~_DELETED, _MESSAGES.c.deleted_at.is_(None)),
    ),
)
_DELIVERED = {
    "delivery_state": case(
        (_UNCHANGED, DeliveryState.DELIVERED.value), else_=_MESSAGES.c.delivery_state
    ),
    "last_delivery_error": case((_UNCHANGED, None), else_=_MESSAGES.c.last_delivery_error),
}
_MARK_DELIVERED = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("b_message_id"))
    .values(_DELIVERED)
    .returning(_MESSAGES.c.delivery_state)
)
_MARK_DELIVERED_WITH_MIRROR = (
    update(_MESSAGES)
    .where(_MESSAGES.c.id == bindparam("b_message_id"))
    .values(
        {
            **_DELIVERED,
            "mirror_channel": bindparam("b_mirror_channel"),
            "mirror_ts": bindparam("b_mirror_ts"),
        }
    )
    .returning(_MESSAGES.c.delivery_state)
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
    values: dict[str, object] = {
        "b_message_id": job.message_id,
        "b_body": job.body,
        "b_deleted": job.deleted,
    }
    statement = _MARK_DELIVERED
    if mirror is not None:
        place, ts = mirror
        values |= {"b_mirror_channel": place.channel, "b_mirror_ts": ts}
        statement = _MARK_DELIVERED_WITH_MIRROR
    await take_write_turn(session)
    result = await session.execute(statement, values)
    return bool(result.one().delivery_state == DeliveryState.DELIVERED)


async def note_failure(session: AsyncSession, message_id: int, error: str) -> None:
    """Why Slack does not show the message yet (the queue row keeps the retry schedule)."""
    await take_write_turn(session)
    await session.execute(
        update(Message).where(Message.id == message_id).values(last_delivery_error=error[:2000])
    )
