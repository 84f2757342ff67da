"""`tenderbot mail-in`'s SMTP server: aiosmtpd on the event loop that holds the sessions.

Runs in-process (``asyncio.Server``), not in aiosmtpd's Controller thread, so the handler
uses the same event loop, engine and Slack client as everything else; tests start it the
same way on a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from aiosmtpd.smtp import SMTP
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.notifiers import reply_tokens
from bot.queue_worker import fast_path
from bot.settings import ConfigurationError, Settings
from bot.slack_client import kept_alive, slack_client_for
from handlers.mail_in import MailIn
from store.conversation import MAX_ATTACHMENT_BYTES

logger = logging.getLogger("tenderbot.mailin")

# One attachment at the Slack limit, base64-encoded (4/3), plus the text around it.
MAX_MAIL_BYTES = MAX_ATTACHMENT_BYTES * 4 // 3 + 1024 * 1024


@dataclass
class RunningMailIn:
    handler: MailIn
    server: asyncio.Server
    host: str
    port: int


def mail_in_handler(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    client: AsyncWebClient | None,
) -> MailIn:
    tokens = reply_tokens(settings)
    if tokens is None or settings.reply_domain is None:
        raise ConfigurationError(
            "invalid setting TENDERBOT_REPLY_DOMAIN: mail-in needs the reply domain "
            "(and TENDERBOT_REPLY_SECRET)"
        )

    deliver_rows = fast_path(settings, sessions)

    async def deliver(rows: Sequence[int]) -> object:
        assert client is not None
        return await deliver_rows(client, rows)

    return MailIn(sessions, tokens, settings.reply_domain, deliver if client else None)


@contextlib.asynccontextmanager
async def running_mail_in(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    client: AsyncWebClient | None,
    *,
    host: str = "127.0.0.1",
    port: int = 2525,
) -> AsyncIterator[RunningMailIn]:
    """The SMTP server for the reply domain, listening until the block ends (port 0: any)."""
    handler = mail_in_handler(settings, sessions, client)
    loop = asyncio.get_running_loop()
    hostname = settings.reply_domain or "localhost"

    def protocol() -> SMTP:
        return SMTP(
            handler,
            hostname=hostname,
            ident="tenderbot mail-in",
            data_size_limit=MAX_MAIL_BYTES,
            loop=loop,
        )

    server = await loop.create_server(protocol, host, port)
    bound = server.sockets[0].getsockname()[1]
    try:
        yield RunningMailIn(handler=handler, server=server, host=host, port=bound)
    finally:
        server.close()
        await server.wait_closed()
        await handler.settle()


async def serve_mail_in(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], host: str, port: int
) -> None:
    """Until SIGINT/SIGTERM. Without a bot token the answers wait for `tenderbot serve`."""
    client = slack_client_for(settings)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
    async with (
        kept_alive(client),
        running_mail_in(settings, sessions, client, host=host, port=port) as running,
    ):
        logger.info(
            "mail-in listens on %s:%s for antwort+…@%s",
            running.host,
            running.port,
            settings.reply_domain,
        )
        await stop.wait()
