"""Where a tender shows in Slack: the thread under its backoffice card and its broker card.

The threads under the two cards are the tender's message module (M1), so their Slack
coordinates are recorded when the cards are posted and looked up in both directions. This
module owns every thread-link lookup; mirroring, cards and the query modal all ask it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from store.models import QueueKind, QueueRow, QueueStatus, Tender, ThreadLink
from store.queue import enqueue_rows, row_values

CardSide = Literal["backoffice", "broker"]
BACKOFFICE: CardSide = "backoffice"
BROKER: CardSide = "broker"


@dataclass(frozen=True)
class Place:
    """Where a thread is in Slack: its channel and the ts of the card that starts it."""

    channel: str
    thread_ts: str


def other_side(side: CardSide) -> CardSide:
    return BROKER if side == BACKOFFICE else BACKOFFICE


# Queue rows that make Slack show a stored thread message as the store holds it.
THREAD_KIND = QueueKind.THREAD
SYNC_MESSAGE = "sync_message"


def delivery_key(tender_id: int, side: CardSide) -> str:
    """One ordering key per card thread: the card, its updates and the posts into its thread
    leave the queue in the order they were written."""
    return f"tender:{tender_id}:{side}"


def _sync_target(message_id: int) -> str:
    return f"message:{message_id}"


async def queue_message_sync(
    session: AsyncSession, message_id: int, tender_id: int, side: CardSide
) -> int | None:
    """Queue "show message ``message_id`` as stored" behind everything before it in the
    thread of ``side``; in the transaction that stored or changed the message."""
    ids = await enqueue_rows(
        session,
        [
            row_values(
                THREAD_KIND,
                _sync_target(message_id),
                SYNC_MESSAGE,
                {"message_id": message_id},
                ordering_key=delivery_key(tender_id, side),
            )
        ],
    )
    return ids[0] if ids else None


@dataclass(frozen=True)
class Waiting:
    """What waits in a thread before a queue row: until those rows are shown, so is it."""

    before: int
    failed: bool  # one of them could not be shown yet (Slack refused or was down)


# Built once: a new alias per call has SQLAlchemy work out its columns again each time,
# and a kept statement keeps its cache key.
_SAME_THREAD = aliased(QueueRow)


_WAITING_BEFORE = (
    select(func.count(), func.count(QueueRow.last_error))
    .select_from(QueueRow)
    .join(_SAME_THREAD, _SAME_THREAD.ordering_key == QueueRow.ordering_key)
    .where(
        _SAME_THREAD.id == bindparam("row_id"),
        QueueRow.status == QueueStatus.PENDING,
        QueueRow.id < bindparam("row_id"),
    )
)


async def waiting_before(session: AsyncSession, row_id: int) -> Waiting:
    """The pending rows of the same thread (ordering key) written before ``row_id``."""
    found = (await session.execute(_WAITING_BEFORE, {"row_id": row_id})).one()
    return Waiting(before=int(found[0]), failed=bool(found[1]))


async def sync_rows_of(session: AsyncSession, message_id: int) -> list[int]:
    """The message's queue rows still to deliver, oldest first (for the fast path)."""
    rows = await session.scalars(
        select(QueueRow.id)
        .where(
            QueueRow.kind == THREAD_KIND,
            QueueRow.recipient == _sync_target(message_id),
            QueueRow.status == QueueStatus.PENDING,
        )
        .order_by(QueueRow.id)
    )
    return list(rows)


async def record_thread(
    session: AsyncSession, tender_id: int, side: CardSide, channel: str, ts: str
) -> ThreadLink:
    """The card of ``side`` was posted at (channel, ts); its thread now belongs to the tender."""
    link = ThreadLink(tender_id=tender_id, side=side, channel=channel, ts=ts)
    session.add(link)
    await session.flush()
    return link


async def thread_of(session: AsyncSession, tender_id: int, side: CardSide) -> ThreadLink | None:
    return await session.scalar(
        select(ThreadLink).where(ThreadLink.tender_id == tender_id, ThreadLink.side == side)
    )


async def thread_links_of(session: AsyncSession, tender_id: int) -> dict[str, ThreadLink]:
    """Both card threads of the tender by side, as far as the cards were posted."""
    links = await session.scalars(select(ThreadLink).where(ThreadLink.tender_id == tender_id))
    return {link.side: link for link in links}


async def thread_link_at(session: AsyncSession, channel: str, ts: str) -> ThreadLink | None:
    """The tender card whose thread starts at (channel, ts), or None for any other thread."""
    return await session.scalar(
        select(ThreadLink).where(ThreadLink.channel == channel, ThreadLink.ts == ts)
    )


async def tender_for_thread(
    session: AsyncSession, channel: str, ts: str, *, side: CardSide | None = None
) -> Tender | None:
    """The tender whose card starts the thread at (channel, ts); ``side`` narrows the card."""
    query = (
        select(Tender)
        .join(ThreadLink, ThreadLink.tender_id == Tender.id)
        .where(ThreadLink.channel == channel, ThreadLink.ts == ts)
    )
    if side is not None:
        query = query.where(ThreadLink.side == side)
    return await session.scalar(query)


async def reference_for_thread(
    session: AsyncSession, channel: str, ts: str, *, side: CardSide | None = None
) -> str | None:
    """Only the reference of ``tender_for_thread``, for callers that need nothing else."""
    query = (
        select(Tender.reference)
        .join(ThreadLink, ThreadLink.tender_id == Tender.id)
        .where(ThreadLink.channel == channel, ThreadLink.ts == ts)
    )
    if side is not None:
        query = query.where(ThreadLink.side == side)
    reference: str | None = await session.scalar(query)
    return reference
