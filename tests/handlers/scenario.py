"""Helpers for the Slack scenario tests in tests/slack: start tenders, read replies and rows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import selectinload

from bot.localslack import LocalSlack, SignedSender
from bot.personas import ANNA
from store.db import transaction
from store.models import Broker, Consultation, Message, ProductLine, Tender, ThreadLink
from store.tenders import add_calculator_offer

STRANGER = "U0STRANGER"
# A second broker's tender, for lists that must keep brokers apart.
CARLA_START_TEXT = "neu sparte=cyber kunde=Clausen-IT vorschaeden=keine beschreibung=Server"
START_TEXT = (
    'neu sparte=haftpflicht kunde="Bäckerei Korn GmbH" sb=1.000 vorschaeden=keine '
    "beschreibung=„Backstube mit Café, 12 Mitarbeiter“"
)


def all_text(message: dict[str, Any]) -> str:
    """Everything a person reads in a message: fallback text and every block's text."""
    return (
        str(message.get("text", ""))
        + "\n"
        + json.dumps(message.get("blocks", []), ensure_ascii=False)
    )


async def response_to(slack: LocalSlack, user: str, count: int = 1) -> dict[str, Any]:
    """The ``count``-th response_url answer ``user`` got (waits for it)."""
    await slack.wait_for(lambda: len(slack.responses(user)) >= count)
    return slack.responses(user)[count - 1]


async def command_reply(
    slack_request: SignedSender, slack: LocalSlack, user: str, command: str, text: str = ""
) -> dict[str, Any]:
    """Send a slash command and wait for the answer it produces after the ack."""
    before = len(slack.responses(user))
    response = await slack_request.send_command(user, command, text)
    assert response.status == 200
    return await response_to(slack, user, before + 1)


async def start_tender(
    slack_request: SignedSender,
    slack: LocalSlack,
    sessions: async_sessionmaker[AsyncSession],
    user: str = ANNA,
    text: str = START_TEXT,
) -> str:
    """Anna starts a tender by text; returns its reference once both cards are posted."""
    posted = len(slack.calls("chat.postMessage"))
    await command_reply(slack_request, slack, user, "/ausschreibung", text)
    await slack.wait_for_calls("chat.postMessage", posted + 2)
    reference = str(slack.calls("chat.postMessage")[-1].params["text"]).split()[1].rstrip(":")
    await eventually(lambda: links_of(sessions, reference, 2))
    return reference


@dataclass(frozen=True)
class TenderThreads:
    """A started tender and the threads under its two cards."""

    reference: str
    backoffice: ThreadLink
    broker: ThreadLink


async def start_tender_threads(
    slack_request: SignedSender, slack: LocalSlack, sessions: async_sessionmaker[AsyncSession]
) -> TenderThreads:
    reference = await start_tender(slack_request, slack, sessions)
    backoffice, broker = await thread_links(sessions)
    return TenderThreads(reference, backoffice, broker)


def thread_message(user: str, link: ThreadLink, text: str, ts: str | None = None) -> dict[str, Any]:
    """The ``message`` event Slack sends for ``user`` writing ``text`` under ``link``'s card
    (without ``ts`` until Slack has stored the message)."""
    event: dict[str, Any] = {
        "type": "message",
        "channel": link.channel,
        "user": user,
        "text": text,
        "thread_ts": link.ts,
        "channel_type": "im" if link.channel.startswith("D") else "channel",
    }
    if ts is not None:
        event["ts"] = ts
    return event


async def write(
    slack: LocalSlack,
    slack_request: SignedSender,
    user: str,
    link: ThreadLink,
    text: str,
    *,
    files: list[dict[str, Any]] | None = None,
    event_id: str | None = None,
) -> str:
    """``user`` writes in the thread under the card of ``link``: Slack stores the message,
    then sends the event. Returns the message ts."""
    event = thread_message(user, link, text)
    if files:
        event["subtype"] = "file_share"
        event["files"] = files
    event["ts"] = slack.state.post(link.channel, dict(event))["ts"]
    response = await slack_request.send_event(event, event_id=event_id)
    assert response.status == 200
    return str(event["ts"])


def replies(slack: LocalSlack, link: ThreadLink) -> list[dict[str, Any]]:
    """What the thread under the card shows, the card itself left out."""
    return [m for m in slack.messages(link.channel, link.ts) if m["ts"] != link.ts]


def bot_posts(slack: LocalSlack, link: ThreadLink) -> list[dict[str, Any]]:
    """The app's posts in the thread under the card: the mirrored messages."""
    return [m for m in replies(slack, link) if m.get("bot_id")]


async def bot_replies(slack: LocalSlack, link: ThreadLink, count: int) -> list[dict[str, Any]]:
    """The app's posts in the thread once there are at least ``count``."""
    await slack.wait_for(lambda: len(bot_posts(slack, link)) >= count)
    return bot_posts(slack, link)


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 30.0) -> None:
    """Poll a store condition the app reaches after its ack (the card links, for one)."""
    # The database has no change notification to wait on, so this polls with a deadline.
    async with asyncio.timeout(seconds):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def stored(sessions: async_sessionmaker[AsyncSession]) -> list[Message]:
    async with sessions() as session:
        return list(await session.scalars(select(Message).order_by(Message.id)))


async def settled(sessions: async_sessionmaker[AsyncSession], count: int) -> list[Message]:
    """The first ``count`` messages once none of them waits for delivery any more."""

    async def done() -> bool:
        messages = await stored(sessions)
        return len(messages) >= count and all(m.delivery_state != "pending" for m in messages)

    await eventually(done)
    return await stored(sessions)


async def links_of(sessions: async_sessionmaker[AsyncSession], reference: str, count: int) -> bool:
    async with sessions() as session:
        found = await session.scalar(
            select(func.count())
            .select_from(ThreadLink)
            .join(Tender, ThreadLink.tender_id == Tender.id)
            .where(Tender.reference == reference)
        )
    return found == count


async def load_tender(sessions: async_sessionmaker[AsyncSession], reference: str) -> Tender:
    async with sessions() as session:
        tender = await session.scalar(
            select(Tender).where(Tender.reference == reference).options(selectinload(Tender.offers))
        )
        assert tender is not None
        return tender


async def thread_links(sessions: async_sessionmaker[AsyncSession]) -> list[ThreadLink]:
    async with sessions() as session:
        return list(await session.scalars(select(ThreadLink).order_by(ThreadLink.side)))


async def calculator_offer_for(
    sessions: async_sessionmaker[AsyncSession], broker: Broker, customer: str, product: str
) -> None:
    """A consultation line of ``broker`` that already has a tariff calculator offer (T2)."""
    async with transaction(sessions) as session:
        consultation = Consultation(broker_id=broker.id, customer_name=customer)
        session.add(consultation)
        await session.flush()
        line = ProductLine(consultation_id=consultation.id, product=product)
        session.add(line)
        await session.flush()
        await add_calculator_offer(
            session, line, "Tarifrechner AG", Decimal("980"), date(2026, 12, 31)
        )
