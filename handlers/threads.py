"""The message module's two Slack threads: messages, edits and deletions mirrored across.

Each event is stored together with its ``event_id`` claim in one transaction, so Slack's
retries change nothing; the post on the other side happens after the commit, from the
stored row (a crash in between leaves it pending for the delivery worker).
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
from handlers.cards import deliver_now
from handlers.deps import Deps
from handlers.threads_delivery import profile_of
from handlers.threads_events import Deleted, Edited, Posted, parse_thread_event
from handlers.threads_files import DownloadFailed, fetch_attachments
from store.actors import Actor, resolve_actor
from store.conversation import NewAttachment
from store.db import take_write_turn, transaction
from store.errors import DomainError, NotABroker, TenderClosed
from store.events import claim_event
from store.mirroring import (
    ThreadPost,
    check_side,
    delete_in_thread,
    edit_in_thread,
    prepare_in_thread,
    store_for_delivery,
)
from store.threads import sync_rows_of, thread_link_at

logger = logging.getLogger(__name__)


def register(app: AsyncApp, deps: Deps) -> None:
    @app.event("message")
    async def on_message(
        event: dict[str, Any],
        body: dict[str, Any],
        client: AsyncWebClient,
        context: AsyncBoltContext,
    ) -> None:
        await handle_message_event(deps, client, event, body, context.bot_user_id)

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


async def with_slack_name(client: AsyncWebClient, actor: Actor) -> Actor:
    """Backoffice members are not in the store: their name comes from Slack."""
    if actor.name:
        return actor
    profile = await profile_of(client, actor.slack_user_id)
    return dataclasses.replace(actor, name=profile.name or actor.slack_user_id)


async def _posted(deps: Deps, client: AsyncWebClient, posted: Posted, event_id: str) -> None:
    refusal: DomainError | DownloadFailed | None = None
    actor: Actor | None = None
    async with deps.sessions() as session:
        link = await thread_link_at(session, posted.channel, posted.thread_ts)
        if link is None:
            return  # a thread that is not under a tender card
        try:
            actor = await resolve_actor(session, posted.user, deps.backoffice_users)
            # Checked before any file is fetched; the store checks again when writing.
            await check_side(session, actor, link)
        except DomainError as error:
            actor, refusal = None, error
    attachments: list[NewAttachment] = []
    if actor is not None:
        # Slack is asked before the write transaction, so no lock waits on the network.
        actor = await with_slack_name(client, actor)
        try:
            attachments = await fetch_attachments(client, posted.files)
        except (DomainError, DownloadFailed) as error:
            logger.info("file in thread %s refused: %s", posted.thread_ts, error)
            refusal = error
    rows: list[int] = []
    # The claim commits with the stored message, or alone with a refusal: a retried event
    # is a no-op either way. The checks only read and come first, so the claim and the
    # writes are the last few statements: SQLite's single write lock is held only for them.
    async with transaction(deps.sessions) as session:
        post: ThreadPost | None = None
        if actor is not None and refusal is None:
            try:
                post = await prepare_in_thread(
                    session, actor, link, posted.text, source_ts=posted.ts, attachments=attachments
                )
            except DomainError as error:
                refusal = error
        await take_write_turn(session)
        if not await claim_event(session, event_id):
            return
        if post is not None:
            rows = await store_for_delivery(session, post)
    if refusal is not None:
        await _tell_refusal(client, posted, refusal, deps.contact)
        return
    if not rows:
        return  # an internal note: it stays where it was written
    if await deliver_now(deps, client, rows):
        await _ephemeral(client, posted, NOT_DELIVERED_YET)


async def _tell_refusal(
    client: AsyncWebClient,
    posted: Posted,
    refusal: DomainError | DownloadFailed,
    contact: str | None,
) -> None:
    if isinstance(refusal, TenderClosed):
        # Rule M4: the thread stays readable, and whoever writes learns where to turn.
        try:
            await client.chat_postMessage(
                channel=posted.channel,
                thread_ts=posted.thread_ts,
                text=closed_notice(refusal.message_de, contact),
            )
        except Exception:
            logger.exception("could not answer in the closed thread %s", posted.thread_ts)
        return
    await _ephemeral(client, posted, escape(refusal.message_de))


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
    rows: list[int] = []
    async with transaction(deps.sessions) as session:
        await take_write_turn(session)
        if not await claim_event(session, event_id):
            return
        try:
            actor = await resolve_actor(session, change.user, deps.backoffice_users)
        except NotABroker:
            return
        if isinstance(change, Edited):
            message = await edit_in_thread(session, actor, change.channel, change.ts, change.text)
        else:
            message = await delete_in_thread(session, actor, change.channel, change.ts)
        if message is not None:
            rows = await sync_rows_of(session, message.id)
    await deliver_now(deps, client, rows)
