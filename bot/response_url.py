"""``respond()`` over one shared HTTP session instead of a new one per reply.

Bolt's ``respond`` opens an aiohttp session (and a TCP or TLS connection) for every post to a
``response_url``, then closes it. Here every reply of one app goes through one session, so
consecutive replies reuse a kept-alive connection. The message is built and sent by
slack_sdk's public webhook client, which takes the shared session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from ssl import SSLContext
from typing import Any
from weakref import WeakKeyDictionary

import aiohttp
from slack_bolt.async_app import AsyncApp
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


class SharedRespond:
    """A listener's ``respond``: posts one message to the request's ``response_url`` over
    ``replies``, through slack_sdk's webhook client (which drops unset fields and turns
    Block Kit objects into dicts).

    Called as handlers call Bolt's ``respond``: ``respond(text, blocks=…, response_type=…,
    replace_original=…)`` or ``respond({...whole message...})``.
    """

    def __init__(
        self,
        *,
        response_url: str,
        replies: ReplySession,
        proxy: str | None = None,
        ssl: SSLContext | None = None,
    ) -> None:
        self.response_url = response_url
        self._replies = replies
        self._proxy = proxy
        self._ssl = ssl

    async def __call__(self, text: str | dict[str, Any] = "", **fields: Any) -> WebhookResponse:
        client = AsyncWebhookClient(
            url=self.response_url,
            timeout=REPLY_TIMEOUT_SECONDS,
            proxy=self._proxy,
            ssl=self._ssl,
            session=self._replies.get(),
        )
        if isinstance(text, dict):
            return await client.send_dict(text)
        return await client.send(text=text, **fields)


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
