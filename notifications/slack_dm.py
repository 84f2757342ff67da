"""Slack messages through the Web API: a DM to the broker, or a post to a channel id.

Posting ``chat.postMessage`` with a user id as the channel lands in the app's DM with that
user, so the same notifier serves brokers (``U…``) and the backoffice channel (``C…``).
"""

from __future__ import annotations

from aiohttp import ClientError
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from notifications.contract import Delivery, TransportError
from store.models import QueueKind

# Errors that will be the same on every retry; everything else (rate limits, Slack
# outages, a revoked token the operator can renew) is worth another attempt.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "user_not_found",
        "users_not_found",
        "not_in_channel",
        "is_archived",
        "account_inactive",
        "user_disabled",
        "cannot_dm_bot",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "restricted_action",
    }
)


class SlackDmNotifier:
    channel: str = QueueKind.SLACK

    def __init__(self, client: AsyncWebClient) -> None:
        self.client = client

    async def notify(self, delivery: Delivery) -> None:
        try:
            await self.client.chat_postMessage(
                channel=delivery.recipient,
                text=delivery.rendered.slack,
                unfurl_links=False,
                unfurl_media=False,
                metadata={
                    "event_type": "tenderbot_notification",
                    "event_payload": {
                        "template": delivery.template,
                        "message_id": delivery.message_id,
                    },
                },
            )
        except SlackApiError as error:
            code = str(error.response.get("error", "unknown_error"))
            raise TransportError(
                f"Slack chat.postMessage to {delivery.recipient} failed: {code}",
                permanent=code in PERMANENT_ERRORS,
            ) from error
        except (TimeoutError, SlackClientError, ClientError, OSError) as error:
            raise TransportError(f"Slack unreachable: {error!r}") from error

    async def close(self) -> None:
        # The client's HTTP session belongs to whoever built it (bot/), not to this notifier.
        return None
