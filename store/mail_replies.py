"""A broker's answer to a notice, taken in by e-mail: one message of the tender's conversation.

The same rules as for a message in the broker's Slack thread: only into an open conversation
(M2), never into a closed tender (M4), attachments within the same limits (M3). The sender
must be the recipient the reply address was issued to, and still one of the broker's
addresses. The message is stored for delivery like a message written in the query modal: it
has no Slack post yet, so it is posted into the broker's thread (as the broker's own) and
mirrored into the backoffice card's thread.

Exactly once: the mail's Message-ID is claimed in the same transaction as the message, so a
second delivery of the same mail changes nothing, and a refusal or a crash rolls the claim
back with everything else.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased, joinedload

from store.actors import Actor
from store.conversation import NewAttachment, prepare_message
from store.db import take_write_turn
from store.errors import AccessDenied, NotFound
from store.events import claim_event
from store.mirroring import ThreadPost, store_for_delivery
from store.models import Broker, Conversation, Tender, ThreadLink
from store.reply_tokens import ReplyTokens, normalise_address
from store.threads import BACKOFFICE, BROKER, Place

VIA_EMAIL = "email"

UNKNOWN_TENDER = "Diese Antwortadresse gehört zu keiner Ausschreibung."
WRONG_SENDER = "Antworten nimmt tenderbot nur von der Adresse an, an die die Benachrichtigung ging."


@dataclass(frozen=True)
class MailReply:
    """One e-mail answer, parsed and checked as far as the mail itself allows."""

    token: str
    sender: str
    message_id: str
    body: str
    attachments: tuple[NewAttachment, ...] = ()


def _dedupe_key(message_id: str) -> str:
    # Message-IDs may be longer than the event id column; a digest always fits.
    return "mail:" + hashlib.sha256(message_id.strip().encode("utf-8")).hexdigest()[:40]


def _broker_addresses(broker: Broker) -> set[str]:
    return {normalise_address(address) for address in (broker.email, *broker.cc_emails)}


async def take_mail_reply(
    session: AsyncSession, tokens: ReplyTokens, reply: MailReply, now: datetime
) -> list[int] | None:
    """Store the reply as the broker's message with its queue rows (``store.threads``).

    Returns the rows to deliver right after the commit, or None when this mail was taken
    before (the same Message-ID).
    Raises InvalidToken for a token we did not issue, AccessDenied for a sender who is not
    its recipient, and the conversation's refusals (ConversationNotOpen, TenderClosed,
    InvalidInput for an empty message or a refused attachment).
    """
    claim = tokens.read(reply.token)
    # Claimed first: a mail taken before is a no-op even if the tender closed since. A
    # refusal below rolls the claim back, so a later delivery is judged afresh.
    await take_write_turn(session)
    if not await claim_event(session, _dedupe_key(reply.message_id)):
        return None
    backoffice_card = aliased(ThreadLink)
    broker_card = aliased(ThreadLink)
    row = (
        await session.execute(
            select(Tender, Broker, Conversation, backoffice_card, broker_card)
            .join(Broker, Broker.id == Tender.broker_id)
            .outerjoin(Conversation, Conversation.tender_id == Tender.id)
            .outerjoin(
                backoffice_card,
                and_(backoffice_card.tender_id == Tender.id, backoffice_card.side == BACKOFFICE),
            )
            .outerjoin(
                broker_card, and_(broker_card.tender_id == Tender.id, broker_card.side == BROKER)
            )
            .options(joinedload(Tender.product_line, innerjoin=True))
            .where(Tender.reference == claim.reference)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(UNKNOWN_TENDER)
    tender, broker, conversation, backoffice, own = row
    sender = normalise_address(reply.sender)
    if not tokens.names(claim, sender) or sender not in _broker_addresses(broker):
        raise AccessDenied(WRONG_SENDER)
    actor = Actor(
        slack_user_id=broker.slack_user_id, role="broker", broker_id=broker.id, name=broker.name
    )
    draft = await prepare_message(
        session,
        actor,
        tender,
        reply.body,
        attachments=reply.attachments,
        known=(broker, conversation),
        via=VIA_EMAIL,
    )
    post = ThreadPost(
        draft=draft,
        origin=Place(own.channel, own.ts) if own is not None else None,
        target=Place(backoffice.channel, backoffice.ts) if backoffice is not None else None,
    )
    return await store_for_delivery(session, post)
