"""The backoffice's ways into the message module besides replying in the thread: the
"Rückfrage stellen" button on the tender card and the "Interne Notiz" message shortcut."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_sdk.web.async_client import AsyncWebClient

from handlers.blocks.base import escape
from handlers.blocks.tenders import QUERY_OPEN_ACTION
from handlers.blocks.threads import (
    EMPTY_QUERY,
    INTERNAL_BLOCK,
    INTERNAL_INPUT,
    INTERNAL_NOTE_SHORTCUT,
    INTERNAL_VALUE,
    NOT_A_TENDER_THREAD,
    QUERY_BLOCK,
    QUERY_INPUT,
    QUERY_MODAL_CALLBACK,
    ephemeral,
    query_modal,
)
from handlers.cards import deliver_now
from handlers.deps import Deps
from handlers.threads_delivery import profile_of
from store.errors import DomainError
from store.mirroring import AskedInModal, ask_in_modal
from store.threads import BACKOFFICE, reference_for_thread

logger = logging.getLogger(__name__)

QUERY_BACKOFFICE_ONLY = "Rückfragen stellen"


def register(app: AsyncApp, deps: Deps) -> None:
    @app.action(QUERY_OPEN_ACTION)
    async def open_query(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        user = body["user"]["id"]
        reference = str(body["actions"][0].get("value") or "")
        if user not in deps.backoffice_users:
            await _refuse(client, body, f"{QUERY_BACKOFFICE_ONLY} ist dem Backoffice vorbehalten.")
            return
        await client.views_open(trigger_id=body["trigger_id"], view=query_modal(reference))

    @app.shortcut(INTERNAL_NOTE_SHORTCUT)
    async def internal_note(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        reference = await _backoffice_thread_reference(deps, body)
        if reference is None:
            await _refuse(client, body, NOT_A_TENDER_THREAD)
            return
        await client.views_open(
            trigger_id=body["trigger_id"], view=query_modal(reference, internal=True)
        )

    @app.view(QUERY_MODAL_CALLBACK)
    async def submit_query(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        reference = str(view.get("private_metadata") or "")
        text, internal = _query_values(view)
        if not text.strip():
            await ack(response_action="errors", errors={QUERY_BLOCK: EMPTY_QUERY})
            return
        user = body["user"]["id"]
        # Slack is asked before the write transaction, so no lock waits on the network.
        name = (await profile_of(client, user)).name if user in deps.backoffice_users else ""
        asked = AskedInModal(user, name, reference, text, internal)
        try:
            stored = await ask_in_modal(
                deps.sessions, asked, deps.backoffice_users, QUERY_BACKOFFICE_ONLY
            )
        except DomainError as error:
            await ack(response_action="errors", errors={QUERY_BLOCK: error.message_de})
            return
        await ack()
        await deliver_now(deps, client, stored.rows)


def _query_values(view: dict[str, Any]) -> tuple[str, bool]:
    values = view.get("state", {}).get("values", {})
    text = values.get(QUERY_BLOCK, {}).get(QUERY_INPUT, {}).get("value") or ""
    chosen = values.get(INTERNAL_BLOCK, {}).get(INTERNAL_INPUT, {}).get("selected_options") or []
    return str(text), any(option.get("value") == INTERNAL_VALUE for option in chosen)


async def _backoffice_thread_reference(deps: Deps, body: dict[str, Any]) -> str | None:
    """The tender whose backoffice thread holds the message the shortcut was used on."""
    if body["user"]["id"] not in deps.backoffice_users:
        return None
    channel = str((body.get("channel") or {}).get("id") or "")
    message = body.get("message") or {}
    thread_ts = str(message.get("thread_ts") or message.get("ts") or "")
    async with deps.sessions() as session:
        return await reference_for_thread(session, channel, thread_ts, side=BACKOFFICE)


async def _refuse(client: AsyncWebClient, body: dict[str, Any], text: str) -> None:
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    if not channel:
        logger.warning("cannot tell %s: %s", body["user"]["id"], text)
        return
    await client.chat_postEphemeral(
        channel=channel, user=body["user"]["id"], **ephemeral(escape(text))
    )
