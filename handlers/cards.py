"""Posting the two tender cards and keeping them current.

The tender is committed before anything is posted, so a Slack outage never loses a
tender; a failed post is logged with the reference for an operator to repost. The Slack
coordinates of each card go to ``ThreadLink``: the threads under the cards are the
tender's message module.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.base import notice
from handlers.blocks.tenders import backoffice_card, broker_card
from handlers.deps import Deps
from store.db import transaction
from store.documents import record_document_share, tender_documents
from store.models import Attachment, Broker, Tender
from store.tenders import count_tender_offers
from store.threads import BACKOFFICE, BROKER, CardSide, record_thread, thread_of

logger = logging.getLogger(__name__)


async def _record_link(deps: Deps, tender_id: int, side: CardSide, channel: str, ts: str) -> None:
    async with transaction(deps.sessions) as session:
        await record_thread(session, tender_id, side, channel, ts)


async def dm_channel(client: AsyncWebClient, slack_user_id: str) -> str:
    opened = await client.conversations_open(users=slack_user_id)
    channel: str = opened["channel"]["id"]
    return channel


async def post_backoffice_card(
    client: AsyncWebClient,
    deps: Deps,
    tender: Tender,
    broker: Broker,
    documents: Sequence[Attachment] = (),
) -> None:
    """Rule T5; the start documents (T1) are re-shared into the card's thread."""
    try:
        posted = await client.chat_postMessage(
            channel=deps.backoffice_channel,
            **backoffice_card(tender, broker, documents=documents),
        )
        await _record_link(deps, tender.id, BACKOFFICE, posted["channel"], posted["ts"])
    except Exception:
        logger.exception("posting the backoffice card of tender %s failed", tender.reference)
        return
    await share_documents(client, deps, tender, documents, posted["channel"], posted["ts"])


async def share_documents(
    client: AsyncWebClient,
    deps: Deps,
    tender: Tender,
    documents: Sequence[Attachment],
    channel: str,
    thread_ts: str,
) -> None:
    """Each start document as a file in the thread, where the backoffice opens it."""
    for document in documents:
        try:
            shared = await client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                content=document.content or b"",
                filename=document.name,
                title=document.name,
            )
            async with transaction(deps.sessions) as session:
                await record_document_share(session, document.id, str(shared["file"]["id"]))
        except Exception:
            logger.exception(
                "sharing document %s of tender %s failed", document.id, tender.reference
            )


async def post_broker_card(
    client: AsyncWebClient,
    deps: Deps,
    tender: Tender,
    broker: Broker,
    documents: Sequence[Attachment] = (),
) -> None:
    """Rule T4: the request confirmation lands in the broker's DM with the app."""
    try:
        channel = await dm_channel(client, broker.slack_user_id)
        posted = await client.chat_postMessage(
            channel=channel, **broker_card(tender, documents=documents)
        )
        await _record_link(deps, tender.id, BROKER, posted["channel"], posted["ts"])
    except Exception:
        logger.exception("posting the broker card of tender %s failed", tender.reference)


async def post_cards(
    client: AsyncWebClient,
    deps: Deps,
    tender: Tender,
    broker: Broker,
    documents: Sequence[Attachment] = (),
) -> None:
    # Independent: the broker still gets the confirmation when the channel post fails.
    await post_backoffice_card(client, deps, tender, broker, documents)
    await post_broker_card(client, deps, tender, broker, documents)


async def refresh_backoffice_card(
    client: AsyncWebClient, deps: Deps, tender: Tender, broker: Broker
) -> None:
    """Show status and offer count on the channel card (no buttons once it is finished)."""
    async with transaction(deps.sessions) as session:
        link = await thread_of(session, tender.id, BACKOFFICE)
        offers = await count_tender_offers(session, tender.id)
        documents = await tender_documents(session, tender.id)
    if link is None:
        return
    card = backoffice_card(tender, broker, offer_count=offers, documents=documents)
    try:
        await client.chat_update(channel=link.channel, ts=link.ts, **card)
    except Exception:
        logger.exception("updating the backoffice card of tender %s failed", tender.reference)


async def tell_broker(
    client: AsyncWebClient,
    broker: Broker,
    reference: str,
    text: str,
    *,
    payload: dict[str, Any] | None = None,
) -> None:
    """A DM to the broker (``text`` as a notice, or ``payload`` as built); a failure is
    logged with the reference, never dropped silently."""
    try:
        channel = await dm_channel(client, broker.slack_user_id)
        payload = payload or notice(text)
        await client.chat_postMessage(channel=channel, **payload)
    except Exception:
        logger.exception("telling the broker about tender %s failed", reference)
