"""The delivery worker against the local Slack: what was stored but not shown gets posted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.localslack import LocalSlack
from bot.mirror_worker import add_mirror_job, mirror_round
from store.db import transaction
from store.mirroring import post_from_modal, post_in_thread
from store.models import Message
from tests.conftest import BACKOFFICE_CHANNEL, BERND
from tests.store.helpers import BERND_ACTOR
from tests.threads.conftest import ANNA_DM, BACKOFFICE_CARD_TS, BROKER_CARD_TS, Threads


@pytest.fixture
async def slack() -> AsyncIterator[LocalSlack]:
    async with LocalSlack() as local:
        local.add_user(BERND, "Bernd Backoffice")
        yield local
        assert [(call.method, call.problems) for call in local.refusals()] == []


async def test_it_posts_every_stored_but_unshown_message_once(
    sessions: async_sessionmaker[AsyncSession], threads: Threads, slack: LocalSlack
) -> None:
    # As after a crash between commit and post: two rows are pending, nothing is in Slack.
    for number, text in enumerate(["Vorschäden?", "Baujahr?"]):
        async with transaction(sessions) as session:
            await post_in_thread(
                session,
                BERND_ACTOR,
                threads.backoffice,
                text,
                source_ts=f"1767000001.00000{number}",
            )
    client = AsyncWebClient(token="xoxb-test", base_url=slack.url)
    now = datetime.now(UTC) + timedelta(seconds=1)
    assert await mirror_round(sessions, client, now) == 2
    assert await mirror_round(sessions, client, now + timedelta(hours=1)) == 0
    posted = [m for m in slack.messages(ANNA_DM) if m.get("thread_ts") == BROKER_CARD_TS]
    assert [m["text"] for m in posted] == [
        "Bernd Berger (Backoffice): Vorschäden?",
        "Bernd Berger (Backoffice): Baujahr?",
    ]
    async with sessions() as session:
        states = list(await session.scalars(select(Message.delivery_state)))
    assert states == ["delivered", "delivered"]


async def test_it_posts_a_message_left_to_the_worker_as_soon_as_it_commits(
    sessions: async_sessionmaker[AsyncSession], threads: Threads, slack: LocalSlack
) -> None:
    def in_backoffice_thread() -> list[str]:
        posted = slack.messages(BACKOFFICE_CHANNEL, thread_ts=BACKOFFICE_CARD_TS)
        return [str(message["text"]) for message in posted]

    async def query_from_modal(text: str) -> None:
        async with transaction(sessions) as session:
            await post_from_modal(
                session, BERND_ACTOR, threads.tender.reference, text, internal=True
            )

    scheduler = AsyncIOScheduler()
    # An hour between rounds: after the first round only a commit can bring the next.
    add_mirror_job(
        scheduler,
        sessions,
        AsyncWebClient(token="xoxb-test", base_url=slack.url),
        seconds=3600,
    )
    await query_from_modal("Vorschäden?")
    scheduler.start()
    try:
        await slack.wait_for(lambda: len(in_backoffice_thread()) == 1, seconds=30)
        await query_from_modal("Baujahr?")
        await slack.wait_for(lambda: len(in_backoffice_thread()) == 2, seconds=30)
    finally:
        scheduler.shutdown(wait=False)
    assert ["Vorschäden?" in text for text in in_backoffice_thread()] == [True, False]
