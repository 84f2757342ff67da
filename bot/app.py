"""The composition root for Slack: one Bolt ``AsyncApp`` wired to the store and the handlers."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import handlers
from bot.queue_worker import fast_path
from bot.response_url import share_replies
from bot.settings import ConfigurationError, Settings
from bot.slack_client import build_client, required_secret
from handlers.context import limit_work
from handlers.deps import Deps

logger = logging.getLogger("tenderbot.slack")

GENERIC_ERROR_DE = (
    "Das hat leider nicht geklappt – ein technischer Fehler ist aufgetreten. "
    "Bitte versuche es gleich noch einmal; das Team ist informiert."
)


def build_deps(settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> Deps:
    return Deps(
        sessions=sessions,
        backoffice_users=settings.backoffice_users,
        backoffice_channel=settings.backoffice_channel,
        zone=settings.zone,
        kombi_rates_toml=_kombi_rates(settings),
        contact=settings.contact,
        deliver=fast_path(settings, sessions),
    )


def create_app(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    *,
    client: AsyncWebClient | None = None,
    socket_mode: bool = False,
    answer_after_work: bool = False,
) -> AsyncApp:
    """Build the app; ``socket_mode`` drops request signing, which Socket Mode does not use.

    ``answer_after_work`` (the console and the demo, never Slack) answers each request only
    once its listener has finished, so the answer is the definite signal that everything
    the request does in Slack has happened; no waiting for a quiet moment."""
    signing_secret = (
        None
        if socket_mode
        else required_secret(settings.slack_signing_secret, "SLACK_SIGNING_SECRET")
    )
    app = AsyncApp(
        client=client or build_client(settings),
        signing_secret=signing_secret,
        # Ack first, slow work after: Slack gives every request three seconds.
        process_before_response=answer_after_work,
        request_verification_enabled=not socket_mode,
        logger=logger,
    )
    app.error(_handle_error)
    if not socket_mode:
        # bot.http closes the shared session with the web app; Socket Mode keeps Bolt's
        # session per reply, as nothing there would close a shared one.
        share_replies(app)
    handlers.register(app, build_deps(settings, sessions))
    # Half the process's connections: the rest serve quick commands, events and the queue.
    limit_work(app, max(1, (settings.database_pool_size + settings.database_max_overflow) // 2))
    return app


def _kombi_rates(settings: Settings) -> str | None:
    path = settings.kombi_rates_path
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigurationError(
            f"invalid setting TENDERBOT_KOMBI_RATES: cannot read {path}: {error}"
        ) from None


async def _handle_error(
    error: Exception,
    body: dict[str, Any],
    client: AsyncWebClient,
    response: BoltResponse | None,
) -> BoltResponse | None:
    """Log with enough context to find the request; tell the user in German, no traceback."""
    context = request_context(body)
    logger.error("unhandled error in Slack listener %s", context, exc_info=error)
    user, channel = context.get("user"), context.get("channel")
    if user and channel:
        try:
            await client.chat_postEphemeral(channel=channel, user=user, text=GENERIC_ERROR_DE)
        except Exception:
            logger.exception("could not tell the user about the error %s", context)
    # Before the ack: answer 200 so Slack shows no raw error; the ephemeral above explains.
    return BoltResponse(status=200, body="") if response is not None else None


def request_context(body: dict[str, Any]) -> dict[str, str]:
    """The few fields that identify a Slack request in a log line."""
    raw_event = body.get("event")
    event: dict[str, Any] = raw_event if isinstance(raw_event, dict) else {}
    user = body.get("user_id") or _nested(body, "user", "id") or event.get("user")
    channel = body.get("channel_id") or _nested(body, "channel", "id") or event.get("channel")
    fields = {
        "type": body.get("type") or ("slash_command" if body.get("command") else None),
        "command": body.get("command"),
        "callback_id": _nested(body, "view", "callback_id"),
        "action_id": (body.get("actions") or [{}])[0].get("action_id"),
        "event": event.get("type"),
        "event_id": body.get("event_id"),
        "user": user,
        "channel": channel,
    }
    return {key: str(value) for key, value in fields.items() if value}


def _nested(body: dict[str, Any], outer: str, inner: str) -> Any:
    value = body.get(outer)
    return value.get(inner) if isinstance(value, dict) else None
