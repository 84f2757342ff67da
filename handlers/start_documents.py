"""Documents given at a tender's start (rule T1): from the start dialog's file input, or
shared in the broker's DM with tenderbot shortly before ``/ausschreibung neu …``.

They are fetched with the bot token after the tender is committed, under the same limits as
thread attachments; a refused file gets a German reason and the tender stays started.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.base import escape
from handlers.cards import dm_channel
from handlers.context import acting
from handlers.deps import Deps
from handlers.requests import DOCUMENTS_BLOCK, INPUT_ACTION
from handlers.threads_events import SlackFile, slack_file
from handlers.threads_files import fetch_documents
from store.documents import MAX_DOCUMENTS, add_documents, used_slack_files
from store.models import Attachment, Tender

logger = logging.getLogger(__name__)

# Files the broker shared in the DM this long before the command belong to the tender.
SHARE_WINDOW = timedelta(minutes=10)
TOO_MANY = (
    "Es werden höchstens {limit} Dokumente übernommen; „{name}“ und weitere Dateien "
    "wurden nicht angehängt."
)


def dialog_files(values: dict[str, Any]) -> tuple[SlackFile, ...]:
    """The files of the dialog's file input, as Slack puts them into the view's state."""
    entry = values.get(DOCUMENTS_BLOCK, {}).get(INPUT_ACTION, {})
    raw = entry.get("files") or []
    return tuple(slack_file(item) for item in raw if isinstance(item, dict))


async def recent_dm_files(
    client: AsyncWebClient, deps: Deps, user_id: str
) -> tuple[SlackFile, ...]:
    """Files ``user_id`` shared top-level in the DM with tenderbot within the window, oldest
    first, leaving out any already stored with a tender."""
    try:
        channel = await dm_channel(client, user_id)
        answer = await client.conversations_history(
            channel=channel, oldest=f"{time.time() - SHARE_WINDOW.total_seconds():.6f}", limit=50
        )
    except (SlackClientError, aiohttp.ClientError, TimeoutError) as error:
        logger.warning("reading the DM of %s for start documents failed: %s", user_id, error)
        return ()
    files: list[SlackFile] = []
    for message in reversed(answer.get("messages") or []):
        if message.get("user") != user_id or message.get("thread_ts") not in (None, message["ts"]):
            continue
        files.extend(slack_file(raw) for raw in message.get("files") or () if isinstance(raw, dict))
    async with deps.sessions() as session:
        used = await used_slack_files(session, [file.id for file in files])
    return tuple(file for file in files if file.id not in used)


async def take_documents(
    client: AsyncWebClient,
    deps: Deps,
    user_id: str,
    tender: Tender,
    files: tuple[SlackFile, ...],
) -> tuple[list[Attachment], list[str]]:
    """Fetch and store the files with the started tender; returns them and the refusals."""
    if not files:
        return [], []
    refused: list[str] = []
    if len(files) > MAX_DOCUMENTS:
        refused.append(TOO_MANY.format(limit=MAX_DOCUMENTS, name=files[MAX_DOCUMENTS].name))
        files = files[:MAX_DOCUMENTS]
    loaded, not_loaded = await fetch_documents(client, files)
    refused.extend(not_loaded)
    if not loaded:
        return [], refused
    async with acting(deps, user_id) as unit:
        stored = await add_documents(unit.session, unit.actor, tender, loaded)
    return stored, refused


def refused_text(reference: str, refused: list[str]) -> str:
    return f"Zu Ihrer Ausschreibung *{reference}*: " + escape(" ".join(refused))
