"""Scenario harness: the real app over HTTP, a local Slack, and signed requests to the app.

A test gets ``slack`` (the LocalSlack: recorded calls, messages, fail_next …), ``app`` (the
Bolt app from create_app, so a test may add a listener before sending), ``slack_request``
(signed sends: send_command, send_action, send_button, send_view_submission, send_event,
send_message) and ``slack_settings``. Wait for after-ack work with
``await slack.wait_for(lambda: …)`` or ``await slack.wait_for_calls("chat.postMessage")``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_app
from bot.localslack import LocalSlack, SignedSender
from bot.localslack.running import RunningApp, local_settings, running_app
from bot.settings import Settings
from store.models import Broker
from tests.conftest import BACKOFFICE_CHANNEL, BACKOFFICE_USERS, add_personas
from tests.handlers.scenario import TenderThreads, start_tender_threads

SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test"


@pytest.fixture
async def slack() -> AsyncIterator[LocalSlack]:
    async with LocalSlack() as local:
        add_personas(local)
        yield local
        # Slack refuses payloads over its limits; a test must never have sent one.
        assert [(call.method, call.problems) for call in local.refusals()] == []


def app_settings(slack: LocalSlack, database_url: str, **changes: object) -> Settings:
    """The app's settings against the local Slack; ``changes`` set further fields."""
    return local_settings(
        slack,
        database_url,
        slack_bot_token=BOT_TOKEN,
        slack_signing_secret=SIGNING_SECRET,
        backoffice_users=BACKOFFICE_USERS,
        backoffice_channel=BACKOFFICE_CHANNEL,
        **changes,
    )


@pytest.fixture
def slack_settings(slack: LocalSlack, database_url: str) -> Settings:
    return app_settings(slack, database_url)


@pytest.fixture
async def tender(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> TenderThreads:
    """Anna's tender, started by text, with the threads under its two cards."""
    return await start_tender_threads(slack_request, slack, sessions)


@pytest.fixture
def app(slack_settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> AsyncApp:
    # The fixture's sessions already carry the PostgreSQL search_path of this test run.
    return create_app(slack_settings, sessions)


@pytest.fixture
async def served(
    slack_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    slack: LocalSlack,
    app: AsyncApp,
) -> AsyncIterator[RunningApp]:
    async with running_app(slack_settings, sessions, slack, app=app) as running:
        yield running


@pytest.fixture
def slack_request(served: RunningApp) -> SignedSender:
    return served.sender
