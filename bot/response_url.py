"""``respond()`` over one shared HTTP session instead of a new one per reply.

Bolt's ``respond`` opens an aiohttp session (and a TCP or TLS connection) for every post to a
``response_url``, then closes it. Here every reply of one app goes through one session, so
consecutive replies reuse a kept-alive connection. The message and the retries are Bolt's and
slack_sdk's own: only where the connection comes from changes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from weakref import WeakKeyDictionary

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.context.respond.internals import _build_message
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

# What AsyncWebhookClient gives each of its own sessions; kept so a reply behaves the same.
REPLY_TIMEOUT_SECONDS = 30


class ReplySession:
    """The one aiohttp session of an app's replies, opened lazily inside the serving loop."""

    def __init__(self) -> None:
        self._http: aiohttp.ClientSession | None = None

    def get(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=REPLY_TIMEOUT_SECONDS), trust_env=False
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None


class SharedRespond(AsyncRespond):
    """Bolt's ``respond`` with the same arguments and message, sent over ``replies``."""

    def __init__(self, *, response_url: str, replies: ReplySession, **options: Any) -> None:
        super().__init__(response_url=response_url, **options)
        self._replies = replies

    async def __call__(
        self,
        text: str | dict[str, Any] = "",
        blocks: Sequence[Any] | None = None,
        attachments: Sequence[Any] | None = None,
        response_type: str | None = None,
        replace_original: bool | None = None,
        delete_original: bool | None = None,
        unfurl_links: bool | None = None,
        unfurl_media: bool | None = None,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> WebhookResponse:
        if isinstance(text, dict):
            message = _build_message(**text)
        else:
            message = _build_message(
                text=text,
                blocks=blocks,
                attachments=attachments,
                response_type=response_type,
                replace_original=replace_original,
                delete_original=delete_original,
                unfurl_links=unfurl_links,
                unfurl_media=unfurl_media,
                thread_ts=thread_ts,
                metadata=metadata,
            )
        client = AsyncWebhookClient(
            url=str(self.response_url),
            timeout=REPLY_TIMEOUT_SECONDS,
            proxy=self.proxy,
            ssl=self.ssl,
            session=self._replies.get(),
        )
        return await client.send_dict(message)


class SharedReplies(AsyncMiddleware):
    """Puts a ``SharedRespond`` into every request that carries a ``response_url``."""

    def __init__(self, replies: ReplySession) -> None:
        self.replies = replies

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],  # Bolt passes it by this name
    ) -> BoltResponse | None:
        context = req.context
        if context.response_url is not None:
            context["respond"] = SharedRespond(
                response_url=context.response_url,
                replies=self.replies,
                proxy=context.client.proxy,
                ssl=context.client.ssl,
            )
        return await next()


_SHARED: WeakKeyDictionary[AsyncApp, ReplySession] = WeakKeyDictionary()


def share_replies(app: AsyncApp) -> None:
    """Send all of ``app``'s replies through one session, closed by ``close_replies``."""
    replies = ReplySession()
    _SHARED[app] = replies
    app.use(SharedReplies(replies))


async def close_replies(app: AsyncApp) -> None:
    """At shutdown of whatever serves ``app``; served again, it opens a new session."""
    replies = _SHARED.get(app)
    if replies is not None:
        await replies.close()
