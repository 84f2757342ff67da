"""Socket Mode: the app connects out to Slack, for hosts without a public HTTPS URL."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from bot.app import create_app
from bot.background import start_background
from bot.http import STOP_SECONDS, open_database, until_stopped
from bot.inflight import track_listeners
from bot.settings import ConfigurationError, Settings
from bot.slack_client import kept_alive
from bot.workspace import check_workspace

logger = logging.getLogger("tenderbot.socket")


def app_token(settings: Settings) -> str:
    token = settings.slack_app_token.get_secret_value() if settings.slack_app_token else ""
    if not token:
        raise ConfigurationError(
            "SLACK_APP_TOKEN is not set; Socket Mode needs an app-level token (xapp-…) "
            "with the connections:write scope"
        )
    if not token.startswith("xapp-"):
        raise ConfigurationError(
            "SLACK_APP_TOKEN must be an app-level token starting with xapp- "
            "(the bot token xoxb-… belongs in SLACK_BOT_TOKEN)"
        )
    return token


async def serve_socket(
    settings: Settings, *, migrate: bool = False, stop: asyncio.Event | None = None
) -> None:
    """Connect over Socket Mode, with the schedule and the outbox running alongside."""
    token = app_token(settings)
    engine, sessions = await open_database(settings, migrate=migrate)
    background = None
    handler = None
    in_flight = None
    closing = contextlib.AsyncExitStack()
    try:
        app = create_app(settings, sessions, socket_mode=True)
        # Closed after the background and the listeners below, which still call Slack.
        await closing.enter_async_context(kept_alive(app.client))
        await check_workspace(app.client, settings.backoffice_channel)
        in_flight = track_listeners(app)
        handler = AsyncSocketModeHandler(app, token)
        await handler.connect_async()  # type: ignore[no-untyped-call]
        background = start_background(settings, sessions, app.client)
        logger.info("connected to Slack over Socket Mode")
        await until_stopped(stop)
    finally:
        if background is not None:
            await background.stop()
        if handler is not None:
            await handler.close_async()  # type: ignore[no-untyped-call]
        if in_flight is not None:
            # Acknowledged over the socket: commit the work before the database closes.
            await in_flight.drain(STOP_SECONDS)
        await closing.aclose()
        await engine.dispose()
