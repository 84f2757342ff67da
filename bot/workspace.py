"""Before serving: is the bot token good, and is the bot in the backoffice channel?

A bot outside the channel cannot post tender cards there (``not_in_channel``), and Slack
says so only when the first tender starts. One clear line at start-up instead.
"""

from __future__ import annotations

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import ConfigurationError

SCOPE_HINT = "add the scopes channels:read and groups:read to the Slack app and reinstall it"


def _not_member(channel: str, name: str, bot: str) -> ConfigurationError:
    return ConfigurationError(
        f"the bot is not a member of the backoffice channel {name} ({channel}, "
        f"TENDERBOT_BACKOFFICE_CHANNEL): type /invite @{bot} in that channel, then start again"
    )


async def check_workspace(client: AsyncWebClient, channel: str) -> str:
    """``auth.test`` and ``conversations.info``; returns the bot's user id or raises
    ConfigurationError with one line that says what to do."""
    try:
        auth = await client.auth_test()
    except SlackApiError as error:
        code = error.response.get("error", "unknown_error")
        raise ConfigurationError(
            f"Slack refused SLACK_BOT_TOKEN ({code}): use the app's Bot User OAuth Token (xoxb-…)"
        ) from None
    except (aiohttp.ClientError, OSError, TimeoutError) as error:
        raise ConfigurationError(f"cannot reach Slack at {client.base_url}: {error}") from None
    bot = str(auth.get("user") or "tenderbot")
    try:
        info = await client.conversations_info(channel=channel)
    except SlackApiError as error:
        code = error.response.get("error", "unknown_error")
        if code == "missing_scope":
            raise ConfigurationError(
                f"cannot check the backoffice channel {channel}: {SCOPE_HINT}"
            ) from None
        if code == "channel_not_found":
            # A private channel the bot is not in looks like one that does not exist.
            raise ConfigurationError(
                f"the backoffice channel {channel} (TENDERBOT_BACKOFFICE_CHANNEL) is unknown "
                f"or private without the bot: check the id, or type /invite @{bot} in the "
                "channel, then start again"
            ) from None
        raise ConfigurationError(
            f"cannot check the backoffice channel {channel}: Slack answered {code}"
        ) from None
    details = info.get("channel") or {}
    if not details.get("is_member"):
        raise _not_member(channel, f"#{details.get('name') or channel}", bot)
    return str(auth.get("user_id") or "")
