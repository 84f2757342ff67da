"""The message module's two Slack threads: messages, edits and deletions mirrored across.

Each handler parses the Slack event, calls one use case of ``store.mirroring`` (which stores
the message with its event claim in one transaction, so Slack's retries change nothing) and
renders its answer; the post on the other side happens after the commit, from the stored
row (a crash in between leaves it for the queue worker).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.base import escape
from handlers.blocks.threads import NOT_DELIVERED_YET, closed_notice, ephemeral
from handlers.cards import deliver_now, thread_notice_row
from handlers.context import retrying, work_slots
from handlers.deps import Deps
from handlers.threads_delivery import cached_profile, profile_of
from handlers.threads_events import Deleted, Edited, Posted, parse_thread_event
from handlers.threads_files import DownloadFailed, fetch_attachments
from handlers.threads_refusals import file_refusal, refusal_text, said_in_thread
from store.conversation import NewAttachment
from store.errors import DomainError
from store.mirroring import (
    Answer,
    ChangedInThread,
    Refused,
    WrittenInThread,
    change_in_thread,
    check_in_thread,
    refuse_in_thread,
    write_in_thread,
)
from store.wake import QUEUE, wake

logger = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("message")
    async def on_message(
        event: dict[str, Any],
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        # Acknowledged already: a database that refuses for a moment must not lose it.
        await retrying(
            "message event",
            lambda: handle_message_event(deps, client, event, body, context.bot_user_id),
            work_slots(app),
        )

    @app.event("file_shared")
    async def on_file_shared() -> None:
        # The message event with subtype file_share carries the thread; that one is used.
        return None


async def handle_message_event(
    deps: Deps,
    client: AsyncWebClient,
    event: dict[str, Any],
    body: dict[str, Any],
    bot_user_id: str | None,
) -> None:
    parsed = parse_thread_event(event, bot_user_id)
    if parsed is None:
        return
    event_id = str(body.get("event_id") or f"{event.get('channel')}:{event.get('event_ts')}")
    if isinstance(parsed, Posted):
        await _posted(deps, client, parsed, event_id)
    else:
        await _changed(deps, client, parsed, event_id)


async def _posted(deps: Deps, client: AsyncWebClient, posted: Posted, event_id: str) -> None:
    written = WrittenInThread(
        event_id=event_id,
        channel=posted.channel,
        thread_ts=posted.thread_ts,
        ts=posted.ts,
        user=posted.user,
        text=posted.text,
    )
    backoffice = posted.user in deps.backoffice_users
    known = cached_profile(client, posted.user) if backoffice else None
    if posted.files or (backoffice and known is None):
        # Slack is asked (files, a backoffice member's name) only for a message the store
        # would take, and before its transaction, so no lock waits on the network.
        checked = await check_in_thread(deps.sessions, written, deps.backoffice_users)
        if checked is False:
            return  # not a tender thread
        if checked is True and posted.files:
            attachments = await _attachments(deps, client, posted, written)
            if attachments is None:
                return
            written = dataclasses.replace(written, attachments=attachments)
    if backoffice:
        # Backoffice members are not in the store: their name comes from Slack.
        profile = known or await profile_of(client, posted.user)
        written = dataclasses.replace(written, name=profile.name)
    outcome = await write_in_thread(
        deps.sessions, written, deps.backoffice_users, _closed_answer(posted, deps.contact)
    )
    if outcome is None:
        return  # not a tender thread, or Slack's retry of an event already handled
    if isinstance(outcome, Refused):
        await _tell_refusal(deps, client, posted, outcome)
        return
    if not outcome.rows:
        return  # an internal note (M5): it stays where it was written
    if outcome.behind:
        # Earlier messages of this thread are on their way: this one follows them, from
        # the worker that delivers them (woken after each). The writer hears of a delay
        # only when one of those could not be shown yet.
        if outcome.behind_failed:
            await _ephemeral(client, posted, NOT_DELIVERED_YET)
        return
    left = await deliver_now(deps, client, outcome.rows)
    # Later messages of this thread, written meanwhile, wait behind this one: now that its
    # outcome is recorded, the worker may take them.
    wake(QUEUE)
    if left:
        await _ephemeral(client, posted, NOT_DELIVERED_YET)


async def _attachments(
    deps: Deps, client: AsyncWebClient, posted: Posted, written: WrittenInThread
) -> tuple[NewAttachment, ...] | None:
    """The message's files (rule M3), asked for once the writer may write there; None when
    a file was refused or Slack would not hand it over (the writer is told)."""
    try:
        return tuple(await fetch_attachments(client, posted.files))
    except (DomainError, DownloadFailed) as error:
        logger.info("file in thread %s refused: %s", posted.thread_ts, error)
        if await refuse_in_thread(deps.sessions, written.event_id):
            await _ephemeral(client, posted, escape(file_refusal(error)))
        return None


def _closed_answer(posted: Posted, contact: str | None) -> Answer:
    """Rule M4: whoever writes under a closed tender learns in the thread where to turn
    instead; a post in the thread, so it goes through the queue like every other."""

    def rows(refused: Refused) -> list[dict[str, Any]]:
        if not said_in_thread(refused):
            return []
        text = closed_notice(refusal_text(refused), contact)
        return [thread_notice_row(posted.channel, posted.thread_ts, text)]

    return rows


async def _tell_refusal(
    deps: Deps, client: AsyncWebClient, posted: Posted, refused: Refused
) -> None:
    if not said_in_thread(refused):
        # Only the writer sees it: an answer to their own action, not a side effect.
        await _ephemeral(client, posted, escape(refusal_text(refused)))
        return
    # The notice's row is committed; what Slack does not take now the worker retries.
    await deliver_now(deps, client, refused.rows)


async def _ephemeral(client: AsyncWebClient, posted: Posted, text: str) -> None:
    try:
        await client.chat_postEphemeral(
            channel=posted.channel, user=posted.user, thread_ts=posted.thread_ts, **ephemeral(text)
        )
    except Exception:
        logger.exception("could not tell %s in %s: %s", posted.user, posted.channel, text)


async def _changed(
    deps: Deps, client: AsyncWebClient, change: Edited | Deleted, event_id: str
) -> None:
    """Edits and deletions of stored messages; the history keeps the earlier text (M4)."""
    changed = ChangedInThread(
        event_id=event_id,
        channel=change.channel,
        ts=change.ts,
        user=change.user,
        text=change.text if isinstance(change, Edited) else None,
    )
    rows = await change_in_thread(deps.sessions, changed, deps.backoffice_users)
    if rows:
        await deliver_now(deps, client, rows)
        wake(QUEUE)
