"""The delivery worker against the local Slack: what was stored but not shown gets posted."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.localslack import LocalSlack
from bot.mirror_worker import MIRROR_JOB, add_mirror_job, mirror_round
from store.db import transaction
from store.mirroring import post_in_thread
from store.models import Message
from tests.conftest import BERND
from tests.store.helpers import BERND_ACTOR
from tests.threads.conftest import ANNA_DM, BROKER_CARD_TS, Threads


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


async def test_it_runs_as_an_interval_job_on_the_background_scheduler(
    sessions: async_sessionmaker[AsyncSession], slack: LocalSlack
) -> None:
    scheduler = AsyncIOScheduler()
    add_mirror_job(scheduler, sessions, AsyncWebClient(token="xoxb-test", base_url=slack.url))
    job = scheduler.get_job(MIRROR_JOB)
    assert job is not None and isinstance(job.trigger, IntervalTrigger)
    assert job.trigger.interval == timedelta(seconds=10)
    assert job.max_instances == 1
