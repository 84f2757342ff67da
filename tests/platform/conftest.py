"""The real serve HTTP app with the platform endpoint on, and a signed sender for events."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_app
from bot.http import build_web_app, start_web_app
from bot.localslack import LocalSlack
from bot.localslack.running import local_settings
from handlers.platform_api import sign
from store.budget import post_entry
from store.db import transaction
from store.models import Broker

PLATFORM_SECRET = "test-platform-secret"


@dataclass
class Answer:
    status: int
    body: dict[str, Any]


class PlatformClient:
    """Posts events like the platform does: the raw body, signed with the shared secret."""

    def __init__(self, url: str, secret: str) -> None:
        self.url = url
        self.secret = secret
        self.http = aiohttp.ClientSession()

    async def post_raw(
        self, body: bytes, *, timestamp: int | None = None, signature: str | None = None
    ) -> Answer:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {
            "Content-Type": "application/json",
            "X-Tenderbot-Timestamp": stamp,
            "X-Tenderbot-Signature": signature or sign(self.secret, stamp, body),
        }
        async with self.http.post(self.url, data=body, headers=headers) as response:
            return Answer(response.status, await response.json())

    async def send(self, event_id: str, type_: str, data: dict[str, Any]) -> Answer:
        return await self.post_raw(event_bytes(event_id, type_, data))


def event_bytes(event_id: str, type_: str, data: dict[str, Any]) -> bytes:
    return json.dumps(
        {"id": event_id, "type": type_, "occurred_at": "2026-12-01T10:00:00+01:00", "data": data}
    ).encode()


@pytest.fixture
async def served_url(
    database_url: str, sessions: async_sessionmaker[AsyncSession]
) -> AsyncIterator[str]:
    async with LocalSlack() as slack:
        settings = local_settings(slack, database_url, platform_secret=PLATFORM_SECRET)
        app = create_app(settings, sessions)
        runner, port = await start_web_app(build_web_app(settings, sessions, app), "127.0.0.1", 0)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()


@pytest.fixture
async def platform(served_url: str) -> AsyncIterator[PlatformClient]:
    client = PlatformClient(f"{served_url}/platform/events", PLATFORM_SECRET)
    try:
        yield client
    finally:
        await client.http.close()


async def credit(sessions: async_sessionmaker[AsyncSession], broker: Broker, cents: int) -> None:
    async with transaction(sessions) as session:
        await post_entry(session, broker.id, cents, "distribution", "2026", "Budget 2026")
