"""The tender cards (T4, T5) leave through the queue: a Slack failure delays a card, never
loses it, and what can never succeed is dead-lettered with its reason."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from slack_bolt.async_app import AsyncApp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.localslack import LocalSlack, SignedSender
from bot.personas import ANNA
from bot.queue_worker import slack_senders
from notifications import flush_outbox
from store.db import transaction
from store.models import Broker, QueueRow
from tests.conftest import BACKOFFICE_CHANNEL
from tests.handlers.scenario import command_reply, eventually, links_of, load_tender

START = "neu sparte=sach kunde=Korn vorschaeden=keine beschreibung=Lager"


@pytest.fixture(autouse=True)
def november_2026() -> Iterator[None]:
    with time_machine.travel("2026-11-23 10:00 +01:00", tick=True):
        yield


async def cards(sessions: async_sessionmaker[AsyncSession]) -> list[QueueRow]:
    async with transaction(sessions) as session:
        return list(
            await session.scalars(
                select(QueueRow).where(QueueRow.kind == "slack_card").order_by(QueueRow.id)
            )
        )


async def _first_card_tried(sessions: async_sessionmaker[AsyncSession]) -> bool:
    rows = await cards(sessions)
    return bool(rows) and rows[0].attempts >= 1 and rows[0].status == "pending"


async def _cards_settled(sessions: async_sessionmaker[AsyncSession]) -> bool:
    return all(row.status in ("sent", "dead") for row in await cards(sessions))


async def test_it_posts_the_channel_card_later_when_slack_answers_internal_error(
    anna: Broker,
    app: AsyncApp,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    slack.fail_next("chat.postMessage", error="internal_error")

    await command_reply(slack_request, slack, ANNA, "/ausschreibung", START)
    await slack.wait_for(lambda: len(slack.messages("D0ANNA")) == 1)
    await eventually(lambda: links_of(sessions, "AS-2026-0001", 1))
    # The broker's link can be stored before the failed channel post's outcome is recorded.
    await eventually(lambda: _first_card_tried(sessions))
    [waiting, _broker_card] = await cards(sessions)
    later = datetime.now(UTC) + timedelta(hours=1)
    result = await flush_outbox(sessions, slack_senders(sessions, app.client), now=later)
    again = await flush_outbox(sessions, slack_senders(sessions, app.client), now=later)

    assert (waiting.status, waiting.attempts) == ("pending", 1)
    assert waiting.last_error == "slack chat.postMessage 200: internal_error"
    assert result.sent == 1
    assert again.claimed == 0
    [card] = slack.messages(BACKOFFICE_CHANNEL)
    assert "AS-2026-0001" in str(card["blocks"])
    assert await links_of(sessions, "AS-2026-0001", 2)
    assert [row.status for row in await cards(sessions)] == ["sent", "sent"]


async def test_it_dead_letters_a_card_slack_refuses_for_good_and_still_confirms_to_anna(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    slack.fail_next("chat.postMessage", error="channel_not_found")

    await command_reply(slack_request, slack, ANNA, "/ausschreibung", START)
    await slack.wait_for(lambda: len(slack.messages("D0ANNA")) == 1)
    await eventually(lambda: links_of(sessions, "AS-2026-0001", 1))
    await eventually(lambda: _cards_settled(sessions))

    assert (await load_tender(sessions, "AS-2026-0001")).status == "open"
    assert slack.messages(BACKOFFICE_CHANNEL) == []
    backoffice, broker = await cards(sessions)
    assert (backoffice.status, backoffice.last_error) == (
        "dead",
        "slack chat.postMessage 200: channel_not_found",
    )
    assert broker.status == "sent"
    async with transaction(sessions) as session:
        notices = list(
            await session.scalars(select(QueueRow).where(QueueRow.template == "dead_letter"))
        )
    assert [(n.recipient, n.context["row_id"]) for n in notices] == [
        (BACKOFFICE_CHANNEL, backoffice.id)
    ]


async def test_it_waits_as_long_as_slack_asks_after_a_429(
    anna: Broker,
    app: AsyncApp,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # More 429s than the client's own retries: the queue takes over with Slack's pause.
    slack.fail_next("chat.postMessage", status=429, times=4, retry_after=0)

    await command_reply(slack_request, slack, ANNA, "/ausschreibung", START)
    await eventually(lambda: links_of(sessions, "AS-2026-0001", 1))
    [waiting, _broker] = await cards(sessions)

    assert waiting.status == "pending"
    assert waiting.last_error == "slack chat.postMessage 429: ratelimited"
