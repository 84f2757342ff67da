"""Replies to response_url: one kept-alive connection for all of them, closed at shutdown.

A small HTTP server stands in for Slack's response_url endpoint and notes which client
connection each reply came over.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.localslack import LocalSlack, SignedSender
from bot.localslack.running import running_app
from bot.personas import ANNA
from bot.settings import Settings
from store.models import Broker
from tests.handlers.scenario import all_text, response_to, start_tender

WAIT_SECONDS = 30.0  # a bound for waits that would never end, not a speed goal


@dataclass
class ResponseUrls:
    """Where the app posts its replies; records each body and the connection it came on."""

    url: str = ""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    connections: list[asyncio.BaseTransport] = field(default_factory=list)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def receive(self, request: web.Request) -> web.Response:
        async with self.arrived:
            self.bodies.append(await request.json())
            assert request.transport is not None
            self.connections.append(request.transport)
            self.arrived.notify_all()
        return web.Response(text="ok")

    async def wait_for(self, count: int) -> None:
        async with asyncio.timeout(WAIT_SECONDS), self.arrived:
            await self.arrived.wait_for(lambda: len(self.bodies) >= count)


@pytest.fixture
async def response_urls() -> AsyncIterator[ResponseUrls]:
    urls = ResponseUrls()
    web_app = web.Application()
    web_app.router.add_post("/respond/{token}", urls.receive)
    runner = web.AppRunner(web_app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    urls.url = f"http://127.0.0.1:{runner.addresses[0][1]}/respond/"
    yield urls
    await runner.cleanup()


async def list_command(
    sender: SignedSender, urls: ResponseUrls, number: int, reference: str = "AS-2026-0001"
) -> None:
    # `/angebote` answers through the response_url (`/ausschreibung liste` in the ack).
    body = sender.command_body(ANNA, "/angebote", reference)
    body["response_url"] = f"{urls.url}{number}"
    response = await sender.post_form(body)
    assert response.status == 200


async def test_it_answers_anna_s_commands_over_one_kept_alive_connection(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
    response_urls: ResponseUrls,
) -> None:
    reference = await start_tender(slack_request, slack, sessions)

    for number in range(3):
        await list_command(slack_request, response_urls, number, reference)
        await response_urls.wait_for(number + 1)

    for body in response_urls.bodies:
        assert body["response_type"] == "ephemeral"
        assert reference in str(body["blocks"])
    assert len({id(connection) for connection in response_urls.connections}) == 1


async def test_it_delivers_a_reply_after_the_ack_to_the_local_slack_s_response_url(
    anna: Broker,
    slack: LocalSlack,
    slack_request: SignedSender,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reference = await start_tender(slack_request, slack, sessions)
    replies_before = len(slack.calls("response_url"))
    shown_before = len(slack.responses(ANNA))

    response = await slack_request.send_command(ANNA, "/angebote", reference)

    assert response.status == 200
    assert response.text == ""  # the answer comes later, not in the ack
    shown = await response_to(slack, ANNA, shown_before + 1)
    [posted] = slack.calls("response_url")[replies_before:]
    assert posted.status == 200 and posted.response["ok"] is True
    assert posted.params["response_type"] == "ephemeral"
    assert reference in all_text(shown)


async def test_it_closes_the_reply_connection_when_the_server_stops(
    anna: Broker,
    slack: LocalSlack,
    slack_settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    app: AsyncApp,
    response_urls: ResponseUrls,
) -> None:
    async with running_app(slack_settings, sessions, slack, app=app) as running:
        await list_command(running.sender, response_urls, 1)
        await response_urls.wait_for(1)
        connection = response_urls.connections[0]
        assert not connection.is_closing()

    async with asyncio.timeout(WAIT_SECONDS):
        # A transport offers nothing to await for its closing; look again each loop turn.
        while not connection.is_closing():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
