"""Documents given at the start of a tender (rule T1): kept with the tender, not a message.

The same limits as thread attachments apply (``check_attachment``); a refused file leaves
the tender started without it. Stored as ``Attachment`` rows with the tender and no message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from store.actors import Actor
from store.conversation import NewAttachment, check_attachment
from store.errors import AccessDenied
from store.models import Attachment, Tender
from store.tender_queries import get_tender_without_offers
from store.types import utcnow

MAX_DOCUMENTS = 10


async def add_documents(
    session: AsyncSession, actor: Actor, tender: Tender, documents: Sequence[NewAttachment]
) -> list[Attachment]:
    """Store the broker's start documents; each was checked before it was downloaded and is
    checked again here on its real size."""
    if actor.broker_id != tender.broker_id:
        raise AccessDenied("Dokumente zur Ausschreibung gibt der Vermittler beim Start mit.")
    now = utcnow()
    rows = []
    for document in documents[:MAX_DOCUMENTS]:
        check_attachment(document.name, document.mimetype, len(document.content))
        rows.append(
            Attachment(
                tender_id=tender.id,
                message_id=None,
                name=document.name,
                mimetype=document.mimetype,
                size=len(document.content),
                sha256=hashlib.sha256(document.content).hexdigest(),
                content=document.content,
                slack_file_id=document.slack_file_id,
                created_at=now,
            )
        )
    session.add_all(rows)
    await session.flush()
    return rows


async def tender_documents(session: AsyncSession, tender_id: int) -> list[Attachment]:
    """The documents given at start, in the order they were given; without their content,
    which only the start itself needs (to share them)."""
    return list(
        await session.scalars(
            select(Attachment)
            .where(Attachment.tender_id == tender_id, Attachment.message_id.is_(None))
            .options(defer(Attachment.content))
            .order_by(Attachment.id)
        )
    )


async def documents_of(session: AsyncSession, actor: Actor, reference: str) -> list[Attachment]:
    """``tender_documents`` for a tender the actor may see (M4: also after close)."""
    tender = await get_tender_without_offers(session, actor, reference)
    return await tender_documents(session, tender.id)


async def used_slack_files(session: AsyncSession, file_ids: Sequence[str]) -> set[str]:
    """Slack files already stored with a tender: a file shared once starts no second one."""
    if not file_ids:
        return set()
    found = await session.scalars(
        select(Attachment.slack_file_id).where(
            Attachment.slack_file_id.in_(list(file_ids)), Attachment.message_id.is_(None)
        )
    )
    return {file_id for file_id in found if file_id}


async def record_document_share(session: AsyncSession, attachment_id: int, file_id: str) -> None:
    """The document was re-shared into the backoffice card's thread as ``file_id``."""
    await session.execute(
        update(Attachment).where(Attachment.id == attachment_id).values(mirror_file_id=file_id)
    )


async def documents_to_share(session: AsyncSession, tender_id: int) -> list[Attachment]:
    """The start documents not yet re-shared into the backoffice card's thread, with their
    content: what the card's delivery still has to upload."""
    return list(
        await session.scalars(
            select(Attachment)
            .where(
                Attachment.tender_id == tender_id,
                Attachment.message_id.is_(None),
                Attachment.mirror_file_id.is_(None),
            )
            .order_by(Attachment.id)
        )
    )
