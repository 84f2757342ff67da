"""The real app served over HTTP on a free local port, talking to a LocalSlack."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from slack_bolt.async_app import AsyncApp
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import create_app
from bot.http import IN_FLIGHT_KEY, build_web_app, start_web_app
from bot.inflight import InFlight
from bot.localslack.server import LocalSlack
from bot.localslack.signed import SignedSender
from bot.settings import Settings, load_settings

LOCAL_SIGNING_SECRET = "local-signing-secret"
LOCAL_BOT_TOKEN = "xoxb-local"


def local_settings(slack: LocalSlack, database_url: str, **overrides: object) -> Settings:
    """Settings for an app that talks only to ``slack``; overrides use the field names."""
    values: dict[str, object] = {
        "database_url": database_url,
        "slack_bot_token": LOCAL_BOT_TOKEN,
        "slack_signing_secret": LOCAL_SIGNING_SECRET,
        "slack_api_url": slack.url,
        "slack_app_token": None,
    }
    values.update(overrides)
    return load_settings(**values)


@dataclass
class RunningApp:
    app: AsyncApp
    port: int
    sender: SignedSender
    in_flight: InFlight

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def idle(self, seconds: float = 10.0) -> None:
        """Wait until the work of every acknowledged request is done, even work that
        leaves no trace (a retried event that is skipped)."""
        assert await self.in_flight.drain(seconds) == 0, "listener work still running"


@asynccontextmanager
async def running_app(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    slack: LocalSlack,
    *,
    app: AsyncApp | None = None,
    port: int = 0,
    answer_after_work: bool = False,
) -> AsyncIterator[RunningApp]:
    """``port`` 0 picks a free one."""
    bolt = app or create_app(settings, sessions, answer_after_work=answer_after_work)
    web_app = build_web_app(settings, sessions, bolt)
    runner, port = await start_web_app(web_app, "127.0.0.1", port)
    secret = settings.slack_signing_secret
    sender = SignedSender(
        f"http://127.0.0.1:{port}/slack/events",
        secret.get_secret_value() if secret else "",
        slack,
    )
    try:
        async with sender:
            yield RunningApp(bolt, port, sender, web_app[IN_FLIGHT_KEY])
    finally:
        await runner.cleanup()
