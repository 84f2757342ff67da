"""The Slack Web API client of every process: one factory, and one kept-alive session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import ConfigurationError, Settings

SLACK_API_URL = "https://slack.com/api/"


def build_client(settings: Settings, *, token: str | None = None) -> AsyncWebClient:
    """A Web API client that waits out rate limits and retries brief outages."""
    if token is None:
        token = required_secret(settings.slack_bot_token, "SLACK_BOT_TOKEN")
    base_url = settings.slack_api_url or SLACK_API_URL
    return AsyncWebClient(
        token=token,
        base_url=base_url if base_url.endswith("/") else base_url + "/",
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
        ],
    )


@asynccontextmanager
async def kept_alive(client: AsyncWebClient | None) -> AsyncIterator[None]:
    """Every Web API call of the block on one HTTP session, so connections are reused.

    Without a session of its own slack_sdk opens a new one, and a new TCP (and TLS)
    connection, for every call: a mirrored thread message or a card would pay a handshake
    each time. Bolt hands the client's session on to the clients it makes per request.
    """
    if client is None or client.session is not None:
        yield
        return
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout))
    client.session = session
    try:
        yield
    finally:
        client.session = None
        await session.close()


def slack_client_for(settings: Settings) -> AsyncWebClient | None:
    """The bot token's client, pointed at SLACK_API_URL (the local Slack) if set; None
    without a token (Slack rows then wait for a process that has one)."""
    if settings.slack_bot_token is None:
        return None
    return build_client(settings)


def required_secret(secret: Any, variable: str) -> str:
    value = secret.get_secret_value() if secret is not None else ""
    if not value:
        raise ConfigurationError(f"{variable} is not set; the Slack app cannot start without it")
    return str(value)
