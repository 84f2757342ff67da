"""The message module of a tender: rules M1–M5 and the query e-mail (N2)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from store.actors import Actor
from store.dialect import insert_ignoring_conflicts
from store.errors import AccessDenied, ConversationNotOpen, InvalidInput, NotFound, TenderClosed
from store.models import (
    FINISHED,
    Attachment,
    Broker,
    Conversation,
    DeliveryState,
    Message,
    MessageRevision,
    Tender,
)
from store.outbox import enqueue_for_broker
from store.products import product_label
from store.tender_queries import get_tender_without_offers
from store.threads import BACKOFFICE, BROKER, queue_message_sync, thread_of
from store.types import utcnow

BROKER_CANNOT_OPEN = (
    "Sie können keine Unterhaltung mit dem Backoffice beginnen: Erst wenn Ihr Backoffice "
    "Ihnen schreibt, wird das Nachrichtenmodul geöffnet, und Sie können antworten. "
    "Ihre Nachricht wurde nicht gespeichert und nicht weitergeleitet."
)

# Where to turn instead is the operator's contact (TENDERBOT_CONTACT), which the store does
# not know: whoever shows this notice adds it (handlers.blocks.threads.closed_notice).
CLOSED_NOTICE = (
    "Die Ausschreibung {reference} ist abgeschlossen; der Verlauf bleibt lesbar "
    "(/verlauf {reference}), neue Nachrichten werden nicht mehr weitergeleitet."
)

MAX_ATTACHMENT_MB = 20
MAX_ATTACHMENT_BYTES = MAX_ATTACHMENT_MB * 1024 * 1024
REFUSED_SUFFIXES = (".exe", ".bat", ".cmd", ".com", ".js", ".msi", ".scr", ".ps1", ".vbs", ".jar")


@dataclass(frozen=True)
class NewAttachment:
    name: str
    mimetype: str
    content: bytes
    slack_file_id: str | None = None


def check_attachment(name: str, mimetype: str, size: int) -> None:
    """Rule M3 allows attachments; executables and very large files are refused."""
    if size > MAX_ATTACHMENT_BYTES:
        raise InvalidInput(f"Die Datei „{name}“ ist zu groß (höchstens {MAX_ATTACHMENT_MB} MB).")
    if name.lower().endswith(REFUSED_SUFFIXES) or mimetype in (
        "application/x-msdownload",
        "application/x-sh",
    ):
        raise InvalidInput(f"Dateien dieses Typs („{name}“) können nicht angehängt werden.")


@dataclass(frozen=True)
class MessageDraft:
    """A message every rule has accepted, and what storing it needs; nothing written yet.

    Checking only reads, so a caller can take its write lock (SQLite has one writer) just
    for ``store_message`` and the event claim next to it.
    """

    actor: Actor
    tender: Tender
    conversation: Conversation | None
    broker: Broker
    body: str
    internal: bool
    source_channel: str | None
    source_ts: str | None
    attachments: tuple[NewAttachment, ...]
    # Whether the broker's card thread exists; None: not known yet, store_message asks.
    broker_thread: bool | None = None
    # How it came when not written in Slack ("email"); shown with the message.
    via: str | None = None


async def prepare_message(
    session: AsyncSession,
    actor: Actor,
    tender: Tender,
    body: str,
    *,
    internal: bool = False,
    source_channel: str | None = None,
    source_ts: str | None = None,
    attachments: Sequence[NewAttachment] = (),
    known: tuple[Broker, Conversation | None] | None = None,
    broker_thread: bool | None = None,
    via: str | None = None,
) -> MessageDraft:
    """Check a message for a tender the actor may see (M2, M3, closed tenders).

    ``tender`` needs its product line loaded (the N2 e-mail names the product); ``known``
    is its broker and conversation when the caller already read them.
    """
    if tender.status in FINISHED:
        raise TenderClosed(CLOSED_NOTICE.format(reference=tender.reference))
    body = body.strip()
    if not body and not attachments:
        raise InvalidInput("Leere Nachrichten werden nicht gesendet.")
    if internal and not actor.is_backoffice:
        raise AccessDenied("Interne Notizen sind dem Backoffice vorbehalten.")
    for attachment in attachments:
        check_attachment(attachment.name, attachment.mimetype, len(attachment.content))
    if known is None:
        # One round trip for both: the broker always exists, the conversation maybe not yet.
        row = (
            await session.execute(
                select(Broker, Conversation)
                .select_from(Broker)
                .outerjoin(Conversation, Conversation.tender_id == tender.id)
                .where(Broker.id == tender.broker_id)
            )
        ).one()
        known = (row[0], row[1])
    broker, conversation = known
    if (conversation is None or conversation.opened_at is None) and not actor.is_backoffice:
        raise ConversationNotOpen(BROKER_CANNOT_OPEN)
    return MessageDraft(
        actor=actor,
        tender=tender,
        conversation=conversation,
        broker=broker,
        body=body,
        internal=internal,
        source_channel=source_channel,
        source_ts=source_ts,
        attachments=tuple(attachments),
        broker_thread=broker_thread,
        via=via,
    )


async def _conversation_of(session: AsyncSession, tender_id: int, now: datetime) -> Conversation:
    """The tender's conversation, created unless another transaction just did.

    Two first messages at once (Bernd writes twice within a second) were both checked
    without a conversation; a plain insert failed the second one with a unique violation
    after Slack had its 200, and the message was lost. The second insert now adds nothing
    and the first one's row is read instead.
    """
    await session.execute(
        insert_ignoring_conflicts(session, Conversation).values(tender_id=tender_id, created_at=now)
    )
    found = await session.scalars(
        select(Conversation)
        .where(Conversation.tender_id == tender_id)
        .execution_options(populate_existing=True)
    )
    return found.one()


async def store_message(session: AsyncSession, draft: MessageDraft) -> Message:
    """``store_message_queued`` for callers that deliver nothing right away."""
    message, _rows = await store_message_queued(session, draft)
    return message


async def store_message_queued(
    session: AsyncSession, draft: MessageDraft
) -> tuple[Message, list[int]]:
    """Write a checked message; a backoffice message to the broker is a query and
    triggers N2 (M5). Only writes, so the write lock is held for a few statements.

    A message for the other side also gets its queue row (``store.threads``) in this
    transaction, behind the earlier posts of that thread; an internal note stays put.
    Returns the message and its queue row (none for an internal note), so the caller can
    deliver it after the commit without reading it back.
    """
    actor, tender = draft.actor, draft.tender
    now = utcnow()
    conversation = draft.conversation
    if conversation is None:
        conversation = await _conversation_of(session, tender.id, now)
    if conversation.opened_at is None and not draft.internal:
        # prepare_message let only the backoffice get here with the module still closed (M2).
        conversation.opened_at = now
        conversation.opened_by = actor.slack_user_id
    message = Message(
        conversation_id=conversation.id,
        author_slack_id=actor.slack_user_id,
        author_name=actor.name or actor.slack_user_id,
        role=actor.role,
        body=draft.body,
        internal=draft.internal,
        source_channel=draft.source_channel,
        source_ts=draft.source_ts,
        via=draft.via,
        delivery_state=DeliveryState.NOT_NEEDED if draft.internal else DeliveryState.PENDING,
        created_at=now,
        # Given as the collection itself, so it is loaded without a refresh afterwards.
        attachments=[
            Attachment(
                tender_id=tender.id,
                name=attachment.name,
                mimetype=attachment.mimetype,
                size=len(attachment.content),
                sha256=hashlib.sha256(attachment.content).hexdigest(),
                content=attachment.content,
                slack_file_id=attachment.slack_file_id,
                created_at=now,
            )
            for attachment in draft.attachments
        ],
    )
    session.add(message)
    await session.flush()
    rows: list[int] = []
    if not draft.internal:
        target = BROKER if actor.is_backoffice else BACKOFFICE
        row = await queue_message_sync(session, message.id, tender.id, target)
        rows = [] if row is None else [row]
    if actor.is_backoffice and not draft.internal:
        broker_thread = draft.broker_thread
        if broker_thread is None:
            broker_thread = await thread_of(session, tender.id, BROKER) is not None
        await enqueue_for_broker(
            session,
            draft.broker,
            "query",
            {
                "reference": tender.reference,
                "product_label": product_label(tender.product_line.product),
                "customer_name": tender.customer_name,
                "author_name": message.author_name,
                "body": draft.body,
            },
            dedupe_key=f"query:{message.id}",
            # One event, one Slack notification: the query mirrored into the broker's card
            # thread is the notice; a DM only where that thread is missing (N2 e-mail stays).
            slack=not broker_thread,
        )
    return message, rows


async def post_message(
    session: AsyncSession,
    actor: Actor,
    reference: str,
    body: str,
    *,
    internal: bool = False,
    source_channel: str | None = None,
    source_ts: str | None = None,
    attachments: Sequence[NewAttachment] = (),
) -> Message:
    """Store one message of the tender's conversation.

    M2: only the backoffice opens the module; a broker writing first is refused and nothing
    is stored. M5: a backoffice message to the broker is a query and triggers N2.
    """
    tender = await get_tender_without_offers(session, actor, reference)
    draft = await prepare_message(
        session,
        actor,
        tender,
        body,
        internal=internal,
        source_channel=source_channel,
        source_ts=source_ts,
        attachments=attachments,
    )
    return await store_message(session, draft)


async def _own_message(session: AsyncSession, actor: Actor, message_id: int) -> Message:
    message = await session.get(Message, message_id)
    if message is None:
        raise NotFound("Diese Nachricht gibt es nicht.")
    if message.author_slack_id != actor.slack_user_id:
        raise AccessDenied("Sie können nur Ihre eigenen Nachrichten ändern.")
    return message


async def edit_message(session: AsyncSession, actor: Actor, message_id: int, body: str) -> Message:
    """Edits keep the earlier text as a revision, so the history stays complete (M4)."""
    message = await _own_message(session, actor, message_id)
    if message.deleted_at is not None:
        raise InvalidInput("Eine gelöschte Nachricht kann nicht bearbeitet werden.")
    session.add(
        MessageRevision(
            message_id=message.id, body=message.body, change="edited", created_at=utcnow()
        )
    )
    message.body = body.strip()
    message.edited_at = utcnow()
    await session.flush()
    return message


async def delete_message(session: AsyncSession, actor: Actor, message_id: int) -> Message:
    """A deletion hides the message from the thread; the history keeps what was said."""
    message = await _own_message(session, actor, message_id)
    if message.deleted_at is None:
        session.add(
            MessageRevision(
                message_id=message.id, body=message.body, change="deleted", created_at=utcnow()
            )
        )
        message.deleted_at = utcnow()
        await session.flush()
    return message


async def history(session: AsyncSession, actor: Actor, reference: str) -> list[Message]:
    """Rule M4: everything that was said, also after close; brokers never see internal notes."""
    tender = await get_tender_without_offers(session, actor, reference)
    query = (
        select(Message)
        .join(Conversation, Message.conversation_id == Conversation.id)
        .where(Conversation.tender_id == tender.id)
        .options(selectinload(Message.attachments), selectinload(Message.revisions))
        .order_by(Message.id)
    )
    if not actor.is_backoffice:
        query = query.where(Message.internal.is_(False))
    return list(await session.scalars(query))
