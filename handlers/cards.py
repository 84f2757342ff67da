"""Posting the two tender cards and keeping them current.

The tender is committed before anything is posted, so a Slack outage never loses a
tender; a failed post is logged with the reference for an operator to repost. The Slack
coordinates of each card go to ``ThreadLink``: the threads under the cards are the
tender's message module.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.base import notice
from handlers.blocks.tenders import backoffice_card, broker_card
from handlers.deps import Deps
from store.db import transaction
from store.models import Broker, Tender
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
    client: AsyncWebClient, deps: Deps, tender: Tender, broker: Broker
) -> None:
    """Rule T5."""
    try:
        posted = await client.chat_postMessage(
            channel=deps.backoffice_channel, **backoffice_card(tender, broker)
        )
        await _record_link(deps, tender.id, BACKOFFICE, posted["channel"], posted["ts"])
    except Exception:
        logger.exception("posting the backoffice card of tender %s failed", tender.reference)


async def post_broker_card(
    client: AsyncWebClient, deps: Deps, tender: Tender, broker: Broker
) -> None:
    """Rule T4: the request confirmation lands in the broker's DM with the app."""
    try:
        channel = await dm_channel(client, broker.slack_user_id)
        posted = await client.chat_postMessage(channel=channel, **broker_card(tender))
        await _record_link(deps, tender.id, BROKER, posted["channel"], posted["ts"])
    except Exception:
        logger.exception("posting the broker card of tender %s failed", tender.reference)


async def post_cards(client: AsyncWebClient, deps: Deps, tender: Tender, broker: Broker) -> None:
    # Independent: the broker still gets the confirmation when the channel post fails.
    await post_backoffice_card(client, deps, tender, broker)
    await post_broker_card(client, deps, tender, broker)


async def refresh_backoffice_card(
    client: AsyncWebClient, deps: Deps, tender: Tender, broker: Broker
) -> None:
    """Show status and offer count on the channel card (no buttons once it is finished)."""
    async with transaction(deps.sessions) as session:
        link = await thread_of(session, tender.id, BACKOFFICE)
        offers = await count_tender_offers(session, tender.id)
    if link is None:
        return
    card = backoffice_card(tender, broker, offer_count=offers)
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
