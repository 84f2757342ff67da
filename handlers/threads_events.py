"""Slack message events of the tender threads, parsed into one of three plain values.

Everything else (bot posts, our own mirrors, joins, ``thread_broadcast``, top-level
messages) parses to None and is ignored, so mirroring can never feed on itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pricing.slack_text import typed


@dataclass(frozen=True)
class SlackFile:
    id: str
    name: str
    mimetype: str
    size: int
    url: str | None


@dataclass(frozen=True)
class Posted:
    channel: str
    thread_ts: str
    ts: str
    user: str
    text: str
    files: tuple[SlackFile, ...]


@dataclass(frozen=True)
class Edited:
    channel: str
    ts: str
    user: str
    text: str


@dataclass(frozen=True)
class Deleted:
    channel: str
    ts: str
    user: str


ThreadEvent = Posted | Edited | Deleted


def _from_bot(message: dict[str, Any], bot_user_id: str | None) -> bool:
    if message.get("bot_id") or message.get("subtype") == "bot_message":
        return True
    return bot_user_id is not None and message.get("user") == bot_user_id


def _is_reply(message: dict[str, Any]) -> bool:
    thread_ts = message.get("thread_ts")
    return bool(thread_ts) and thread_ts != message.get("ts")


def slack_file(raw: dict[str, Any]) -> SlackFile:
    """A Slack file object (event, files.info, a file input's state) as far as we use it."""
    size = raw.get("size")
    return SlackFile(
        id=str(raw.get("id") or ""),
        name=str(raw.get("name") or raw.get("title") or raw.get("id") or "Datei"),
        mimetype=str(raw.get("mimetype") or "application/octet-stream"),
        size=size if isinstance(size, int) else 0,
        url=raw.get("url_private_download") or raw.get("url_private"),
    )


def parse_thread_event(event: dict[str, Any], bot_user_id: str | None) -> ThreadEvent | None:
    if event.get("type") != "message":
        return None
    subtype = event.get("subtype")
    channel = str(event.get("channel") or "")
    if subtype in (None, "file_share"):
        if _from_bot(event, bot_user_id) or not _is_reply(event) or not event.get("user"):
            return None
        return Posted(
            channel=channel,
            thread_ts=str(event["thread_ts"]),
            ts=str(event["ts"]),
            user=str(event["user"]),
            text=typed(event.get("text")),
            files=tuple(
                slack_file(raw) for raw in event.get("files") or () if isinstance(raw, dict)
            ),
        )
    if subtype == "message_changed":
        message = event.get("message")
        if not isinstance(message, dict) or _from_bot(message, bot_user_id):
            return None
        if not _is_reply(message) or not message.get("user"):
            return None
        return Edited(
            channel=channel,
            ts=str(message["ts"]),
            user=str(message["user"]),
            text=typed(message.get("text")),
        )
    if subtype == "message_deleted":
        previous = event.get("previous_message")
        if not isinstance(previous, dict) or _from_bot(previous, bot_user_id):
            return None
        if not event.get("deleted_ts") or not previous.get("user"):
            return None
        return Deleted(channel=channel, ts=str(event["deleted_ts"]), user=str(previous["user"]))
    return None
