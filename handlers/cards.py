"""The two tender cards (T4, T5), their updates and the broker's notices, through the queue.

The card rows are written in the transaction that starts or changes the tender, so a Slack
outage never loses a card: the queue retries (``ok: false`` codes like ``internal_error``
too) and dead-letters what cannot succeed. Right after that commit the handler asks for
delivery (``Deps.deliver``, the fast path); whatever Slack refused, the worker delivers
later. The rows of one card thread share its ordering key (``store.threads.delivery_key``),
so an update never overtakes its card and the thread posts come after the card they hang
under. The Slack coordinates of each
card go to ``ThreadLink``: the threads under the cards are the tender's message module.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.blocks.tenders import backoffice_card, broker_card
from handlers.deps import Deps
from handlers.slack_errors import is_slack_failure, transport_error
from store.db import transaction
from store.documents import documents_to_share, record_document_share, tender_documents
from store.models import Broker, QueueKind, Tender
from store.queue import Job, TransportError, enqueue_rows, row_values
from store.tender_queries import tender_for_card
from store.threads import BACKOFFICE, BROKER, delivery_key, record_thread, thread_of
from store.types import utcnow

logger = logging.getLogger(__name__)

CARD_KIND = QueueKind.SLACK_CARD
BACKOFFICE_CARD = "backoffice_card"
BROKER_CARD = "broker_card"
CARD_UPDATE = "card_update"
BROKER_NOTICE = "broker_notice"
# A bot post in a tender's thread (a built message): the closed tender's notice (M4).
THREAD_NOTICE = "thread_notice"
# How long the starting request has to take the documents and post the cards itself.
CARD_GRACE = timedelta(seconds=60)


async def queue_cards(
    session: AsyncSession, deps: Deps, tender: Tender, broker: Broker
) -> list[int]:
    """Rules T4, T5: both cards, in the transaction that started the tender.

    Due a little later: the request first takes the start documents (T1) and then
    delivers the cards itself (``deliver_now`` claims them by id before they are due);
    the worker posts them only when that request died on the way.
    """
    context = {"tender_id": tender.id, "reference": tender.reference}
    later = utcnow() + CARD_GRACE
    return await enqueue_rows(
        session,
        [
            row_values(
                CARD_KIND,
                deps.backoffice_channel,
                BACKOFFICE_CARD,
                context,
                ordering_key=delivery_key(tender.id, BACKOFFICE),
                dedupe_key=f"card:{tender.id}:backoffice",
                due=later,
            ),
            row_values(
                CARD_KIND,
                broker.slack_user_id,
                BROKER_CARD,
                context,
                ordering_key=delivery_key(tender.id, BROKER),
                dedupe_key=f"card:{tender.id}:broker",
                due=later,
            ),
        ],
    )


async def queue_card_update(session: AsyncSession, deps: Deps, tender: Tender) -> list[int]:
    """Show status and offer count on the channel card, as they are when it is delivered."""
    return await enqueue_rows(
        session,
        [
            row_values(
                CARD_KIND,
                deps.backoffice_channel,
                CARD_UPDATE,
                {"tender_id": tender.id, "reference": tender.reference},
                ordering_key=delivery_key(tender.id, BACKOFFICE),
            )
        ],
    )


async def queue_broker_notice(
    session: AsyncSession, tender: Tender, broker: Broker, payload: dict[str, Any]
) -> list[int]:
    """A DM to the broker about the tender (a built message), after the broker's card."""
    return await enqueue_rows(
        session,
        [
            row_values(
                CARD_KIND,
                broker.slack_user_id,
                BROKER_NOTICE,
                {"tender_id": tender.id, "reference": tender.reference, "payload": payload},
                ordering_key=delivery_key(tender.id, BROKER),
            )
        ],
    )


def thread_notice_row(channel: str, thread_ts: str, text: str) -> dict[str, Any]:
    """The queue row of a bot post in a thread: written in the transaction that caused it,
    so a failed post is retried instead of lost, and a retried event adds none."""
    return row_values(
        CARD_KIND, channel, THREAD_NOTICE, {"payload": {"thread_ts": thread_ts, "text": text}}
    )


async def deliver_now(deps: Deps, client: AsyncWebClient, row_ids: Sequence[int]) -> int:
    """The fast path after the commit; returns how many rows are left for the worker."""
    if not row_ids:
        return 0
    if deps.deliver is None:
        return len(row_ids)
    try:
        return await deps.deliver(client, row_ids)
    except Exception:
        # The rows are committed: the worker delivers them once this process or another
        # gets to it. Only the delay is lost.
        logger.exception("delivering queue rows %s right away failed", list(row_ids))
        return len(row_ids)


async def dm_channel(client: AsyncWebClient, slack_user_id: str) -> str:
    opened = await client.conversations_open(users=slack_user_id)
    channel: str = opened["channel"]["id"]
    return channel


class CardSender:
    """Delivers the ``slack_card`` rows; each call is safe to repeat after a crash."""

    kind: str = CARD_KIND

    def __init__(self, sessions: async_sessionmaker[AsyncSession], client: AsyncWebClient) -> None:
        self.sessions = sessions
        self.client = client

    async def send(self, job: Job) -> None:
        method = "chat.postMessage"
        try:
            if job.template == CARD_UPDATE:
                method = "chat.update"
                await self._update(job)
            elif job.template in (BACKOFFICE_CARD, BROKER_CARD):
                await self._post_card(job)
            elif job.template == BROKER_NOTICE:
                payload: dict[str, Any] = dict(job.context["payload"])
                channel = await dm_channel(self.client, job.recipient)
                await self.client.chat_postMessage(channel=channel, **payload)
            elif job.template == THREAD_NOTICE:
                await self.client.chat_postMessage(
                    channel=job.recipient, **dict(job.context["payload"])
                )
            else:
                raise TransportError(f"unknown card action {job.template!r}", permanent=True)
        except TransportError:
            raise
        except Exception as error:
            if is_slack_failure(error):
                raise transport_error(method, error) from error
            raise

    async def _post_card(self, job: Job) -> None:
        tender_id = int(job.context["tender_id"])
        side = BACKOFFICE if job.template == BACKOFFICE_CARD else BROKER
        async with self.sessions() as session:
            link = await thread_of(session, tender_id, side)
            tender, broker, _offers = await tender_for_card(session, tender_id)
            documents = await tender_documents(session, tender_id)
        if link is not None:
            channel, ts = link.channel, link.ts  # posted and recorded by an earlier attempt
        elif side == BACKOFFICE:
            posted = await self.client.chat_postMessage(
                channel=job.recipient, **backoffice_card(tender, broker, documents=documents)
            )
            channel, ts = str(posted["channel"]), str(posted["ts"])
        else:
            dm = await dm_channel(self.client, job.recipient)
            posted = await self.client.chat_postMessage(
                channel=dm, **broker_card(tender, documents=documents)
            )
            channel, ts = str(posted["channel"]), str(posted["ts"])
        if link is None:
            async with transaction(self.sessions) as session:
                await record_thread(session, tender_id, side, channel, ts)
        if side == BACKOFFICE:
            await self._share_documents(tender_id, channel, ts)

    async def _share_documents(self, tender_id: int, channel: str, thread_ts: str) -> None:
        """Rule T1: each start document as a file in the card's thread, once."""
        async with self.sessions() as session:
            documents = await documents_to_share(session, tender_id)
        for document in documents:
            shared = await self.client.files_upload_v2(
                channel=channel,
                thread_ts=thread_ts,
                content=document.content or b"",
                filename=document.name,
                title=document.name,
            )
            async with transaction(self.sessions) as session:
                await record_document_share(session, document.id, str(shared["file"]["id"]))

    async def _update(self, job: Job) -> None:
        tender_id = int(job.context["tender_id"])
        async with self.sessions() as session:
            link = await thread_of(session, tender_id, BACKOFFICE)
            tender, broker, offers = await tender_for_card(session, tender_id)
            documents = await tender_documents(session, tender_id)
        if link is None:
            # Its card was dead-lettered: an operator requeues the card, then this.
            raise TransportError(f"tender {tender.reference} has no backoffice card yet")
        card = backoffice_card(tender, broker, offer_count=offers, documents=documents)
        await self.client.chat_update(channel=link.channel, ts=link.ts, **card)

    async def close(self) -> None:
        # The client's HTTP session belongs to whoever built it (bot/), not to this sender.
        return None
