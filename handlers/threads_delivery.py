"""Showing stored thread messages on the other side: post, update, delete, re-share files.

``ThreadSender`` delivers the queue's ``thread`` rows (``store.threads.queue_message_sync``):
right after the commit that stored or changed a message (the fast path, ``Deps.deliver``)
and by the queue worker for whatever Slack refused: rate limits, outages. Each row makes
Slack show the message as the store holds it now, so a repeated row changes nothing, and
the rows of one thread are claimed one at a time in the order they were written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.blocks.threads import PENDING_REACTION, mirrored_posts
from handlers.slack_errors import transport_error
from store.queue import Job, TransportError
from store.thread_delivery import (
    DeliveryJob,
    delivery_job,
    each_statement_alone,
    mark_delivered,
    note_failure,
    record_file_share,
    record_mirror_post,
    record_origin_post,
)
from store.threads import THREAD_KIND, Place
from store.wake import QUEUE, wake

logger = logging.getLogger(__name__)

PROFILE_TTL_SECONDS = 600.0
# Authors kept at once: a workspace's writers fit, and a long-running process that meets
# ever new users (guests, a big workspace) does not grow without end.
PROFILE_CACHE_SIZE = 1000
CONTINUATION_EVENT = "tenderbot_mirror_continuation"
# Slack errors that only mean "already gone" or "already so": nothing left to do.
ALREADY_DONE = frozenset({"message_not_found", "already_reacted", "no_reaction"})


class MissingThread(Exception):
    """The other side's tender card was never posted; retried until it exists."""


@dataclass(frozen=True)
class Profile:
    name: str
    icon_url: str | None


# Keyed by the Web API address too: one process may talk to several Slacks (tests, demo).
_profiles: dict[tuple[str, str], tuple[float, Profile]] = {}


def cached_profile(client: AsyncWebClient, user_id: str) -> Profile | None:
    """The profile ``profile_of`` would give without asking Slack, if it has one."""
    cached = _profiles.get((client.base_url, user_id))
    if cached is not None and time.monotonic() - cached[0] < PROFILE_TTL_SECONDS:
        return cached[1]
    return None


async def profile_of(client: AsyncWebClient, user_id: str) -> Profile:
    """Name and avatar from users.info, cached: one lookup per author, not per message."""
    cached = cached_profile(client, user_id)
    if cached is not None:
        return cached
    key = (client.base_url, user_id)
    try:
        answer = await client.users_info(user=user_id)
    except (SlackClientError, aiohttp.ClientError, TimeoutError):
        logger.warning("users.info failed for %s; posting with the stored name", user_id)
        return Profile(name="", icon_url=None)
    user = answer.get("user") or {}
    details = user.get("profile") or {}
    profile = Profile(
        name=str(
            details.get("real_name") or user.get("real_name") or details.get("display_name") or ""
        ),
        icon_url=details.get("image_72") or details.get("image_48"),
    )
    _profiles.pop(key, None)
    _profiles[key] = (time.monotonic(), profile)
    while len(_profiles) > PROFILE_CACHE_SIZE:
        # Dicts keep insertion order: the first entry is the one looked up longest ago.
        del _profiles[next(iter(_profiles))]
    return profile


class ThreadSender:
    """The queue's sender for thread messages: post, update or delete the mirror."""

    kind: str = THREAD_KIND

    def __init__(self, sessions: async_sessionmaker[AsyncSession], client: AsyncWebClient) -> None:
        self.sessions = sessions
        self.client = client

    async def send(self, row: Job) -> None:
        message_id = int(row.context["message_id"])
        async with each_statement_alone(self.sessions) as session:
            job = await delivery_job(session, message_id)
        try:
            mirror = await _show(self.sessions, self.client, job)
        except (SlackClientError, aiohttp.ClientError, TimeoutError, MissingThread) as error:
            failure = (
                TransportError(str(error))
                if isinstance(error, MissingThread)
                else transport_error("thread delivery", error)
            )
            async with each_statement_alone(self.sessions) as session:
                await note_failure(session, message_id, failure.message)
            logger.warning(
                "message %s of %s not delivered (%s)", message_id, job.reference, failure.message
            )
            if row.attempts == 1:
                await _react(self.client, job, add=True)
            raise failure from error
        async with each_statement_alone(self.sessions) as session:
            await mark_delivered(session, job, mirror=mirror)
        # The thread's next row waited for this one (its ordering key) and no commit will
        # ring for it: the worker looks again. Rung during the worker's own run, the wake is
        # kept until this row's outcome is recorded; the fast path rings once more after it.
        wake(QUEUE)
        if row.attempts > 1 or job.failed_before:
            await _react(self.client, job, add=False)

    async def close(self) -> None:
        # The client's HTTP session belongs to whoever built it (bot/), not to this sender.
        return None


async def _show(
    sessions: async_sessionmaker[AsyncSession], client: AsyncWebClient, job: DeliveryJob
) -> tuple[Place, str] | None:
    """Make Slack show the job; returns a new mirror post still to be recorded."""
    if job.deleted:
        if job.mirror_ts is not None and job.target is not None:
            await _ignoring_done(client.chat_delete(channel=job.target.channel, ts=job.mirror_ts))
            await _drop_continuations(client, job.target, job.mirror_ts, job.message_id)
        return None
    profile = await profile_of(client, job.author_slack_id)
    first, *more = _payloads(job, profile)
    if job.source_ts is None:
        # Written in the modal: the backoffice thread shows it too, as its author's post.
        origin = _required(job.origin, job)
        posted = await client.chat_postMessage(
            channel=origin.channel, thread_ts=origin.thread_ts, **first
        )
        for part in more:
            await client.chat_postMessage(
                channel=origin.channel, thread_ts=origin.thread_ts, **part
            )
        async with each_statement_alone(sessions) as session:
            await record_origin_post(session, job.message_id, origin, str(posted["ts"]))
    if job.internal:
        return None
    target = _required(job.target, job)
    files = [file for file in job.files if file.mirror_file_id is None]
    if job.mirror_ts is None:
        posted = await client.chat_postMessage(
            channel=target.channel, thread_ts=target.thread_ts, **first
        )
        if not files and not more:
            # Recorded with the delivery mark: one commit instead of two.
            return target, str(posted["ts"])
        # Recorded at once: a failing continuation or file must not post the first part again.
        async with each_statement_alone(sessions) as session:
            await record_mirror_post(session, job.message_id, target, str(posted["ts"]))
    else:
        await client.chat_update(
            channel=target.channel, ts=job.mirror_ts, text=first["text"], blocks=first["blocks"]
        )
        # An edit (or a retry after a failed continuation) replaces the earlier continuations.
        await _drop_continuations(client, target, job.mirror_ts, job.message_id)
    # A body longer than one Slack message goes on in continuation posts, in order.
    for number, part in enumerate(more, start=2):
        await client.chat_postMessage(
            channel=target.channel,
            thread_ts=target.thread_ts,
            metadata=continuation_metadata(job.message_id, number),
            **part,
        )
    for file in files:
        shared = await client.files_upload_v2(
            channel=target.channel,
            thread_ts=target.thread_ts,
            content=file.content,
            filename=file.name,
            title=file.name,
        )
        async with each_statement_alone(sessions) as session:
            await record_file_share(session, file.attachment_id, str(shared["file"]["id"]))
    return None


def continuation_metadata(message_id: int, part: int) -> dict[str, Any]:
    """Marks a continuation post: only the first part's ts is stored, the rest are found
    by this when the message is edited or deleted."""
    return {
        "event_type": CONTINUATION_EVENT,
        "event_payload": {"message_id": message_id, "part": part},
    }


async def _drop_continuations(
    client: AsyncWebClient, place: Place, first_ts: str, message_id: int
) -> None:
    """Delete the continuation posts of an earlier version of the message."""
    cursor: str | None = None
    while True:
        page = await client.conversations_replies(
            channel=place.channel,
            ts=place.thread_ts,
            oldest=first_ts,
            include_all_metadata=True,
            limit=200,
            cursor=cursor,
        )
        for posted in page.get("messages") or []:
            metadata = posted.get("metadata") or {}
            payload = metadata.get("event_payload") or {}
            if (
                metadata.get("event_type") == CONTINUATION_EVENT
                and payload.get("message_id") == message_id
            ):
                await _ignoring_done(client.chat_delete(channel=place.channel, ts=posted["ts"]))
        cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
        if cursor is None:
            return


def _payloads(job: DeliveryJob, profile: Profile) -> list[dict[str, Any]]:
    # A stored name that is only the Slack id (users.info was down) gets the real one now.
    named = job.author_name != job.author_slack_id
    return mirrored_posts(
        author_name=job.author_name if named else (profile.name or job.author_name),
        role=job.role,
        body=job.body,
        reference=job.reference,
        file_names=[file.name for file in job.files],
        icon_url=profile.icon_url,
        internal=job.internal,
        edited=job.edited,
        via=job.via,
    )


def _required(place: Place | None, job: DeliveryJob) -> Place:
    if place is None:
        raise MissingThread(f"tender {job.reference} has no card thread for this side yet")
    return place


async def _ignoring_done(call: Awaitable[Any]) -> None:
    try:
        await call
    except SlackApiError as error:
        if error.response.get("error") not in ALREADY_DONE:
            raise


async def _react(client: AsyncWebClient, job: DeliveryJob, *, add: bool) -> None:
    """⏳ on the writer's own message while it waits for delivery; removed once it arrived."""
    if job.source_channel is None or job.source_ts is None:
        return
    try:
        if add:
            call = client.reactions_add(
                channel=job.source_channel, timestamp=job.source_ts, name=PENDING_REACTION
            )
        else:
            call = client.reactions_remove(
                channel=job.source_channel, timestamp=job.source_ts, name=PENDING_REACTION
            )
        await _ignoring_done(call)
    except (SlackClientError, aiohttp.ClientError, TimeoutError):
        # Only a hint for the writer; the delivery itself is tracked in the store.
        logger.warning("could not update the pending marker of message %s", job.message_id)
