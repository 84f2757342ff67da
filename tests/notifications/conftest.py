"""Real network doubles for the notification tests: aiosmtpd servers and a Slack Web API.

Both run on the test's own event loop, so a test can stop a server ("SMTP is down"), start
it again on the same port, and read exactly what arrived.
"""

from __future__ import annotations

import asyncio
import email
import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from typing import Any

import pytest
import trustme
from aiohttp import web
from aiosmtpd.smtp import SMTP as SmtpServerProtocol
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from notifications.smtp import SmtpConfig

MAIL_FROM = "tenderbot@makler-plattform.example"
USERNAME, PASSWORD = "tenderbot", "geheim-2026"


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    over_tls: bool
    authenticated: bool


@dataclass
class MailHandler:
    """Records every accepted e-mail; answers chosen recipients with a chosen status."""

    received: list[ReceivedMail] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_reply: str | None = None
    delay: float = 0.0
    # Clients that said goodbye (QUIT) rather than just going away.
    quits: int = 0
    # Set: RCPT is answered only once it is (a server that hangs).
    rcpt_held_until: asyncio.Event | None = None

    async def handle_RCPT(
        self,
        server: SmtpServerProtocol,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if self.rcpt_held_until is not None:
            await self.rcpt_held_until.wait()
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SmtpServerProtocol, session: Session, envelope: Envelope
    ) -> str:
        if self.data_reply is not None:
            return self.data_reply
        if self.delay:
            await asyncio.sleep(self.delay)
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.received.append(
            ReceivedMail(
                mail_from=str(envelope.mail_from),
                rcpt_tos=list(envelope.rcpt_tos),
                message=parsed,
                over_tls=session.ssl is not None,
                authenticated=bool(session.authenticated),
            )
        )
        return "250 Message accepted for delivery"

    async def handle_QUIT(
        self, server: SmtpServerProtocol, session: Session, envelope: Envelope
    ) -> str:
        self.quits += 1
        return "221 Bye"


class SmtpServer:
    """An aiosmtpd server that can be stopped and started again on the same port."""

    def __init__(self, handler: MailHandler, **options: Any) -> None:
        self.handler = handler
        self.options = options
        self.host = "127.0.0.1"
        self.port = 0
        self._server: asyncio.base_events.Server | None = None
        # One per connection a client opened, in order.
        self.connections: list[SmtpServerProtocol] = []

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    def _connection(self) -> SmtpServerProtocol:
        connection = SmtpServerProtocol(self.handler, hostname="mx.test", **self.options)
        self.connections.append(connection)
        return connection

    def drop_connections(self) -> None:
        """Close every open connection from the server's side, as a server does with a
        client that sat idle past its timeout."""
        for connection in self.connections:
            if connection.transport is not None:
                connection.transport.close()

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def config(self, **overrides: Any) -> SmtpConfig:
        values: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "starttls_required": False,
            "mail_from": MAIL_FROM,
            "timeout": 5.0,
        }
        values.update(overrides)
        return SmtpConfig(**values)

    @property
    def received(self) -> list[ReceivedMail]:
        return self.handler.received


StartSmtp = Callable[..., Awaitable[SmtpServer]]


@pytest.fixture
async def start_smtp() -> AsyncIterator[StartSmtp]:
    servers: list[SmtpServer] = []

    async def start(handler: MailHandler | None = None, **options: Any) -> SmtpServer:
        server = SmtpServer(handler or MailHandler(), **options)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def smtp(start_smtp: StartSmtp) -> SmtpServer:
    """A plain local SMTP server without TLS or AUTH."""
    return await start_smtp()


@dataclass(frozen=True)
class Tls:
    server: ssl.SSLContext
    client: ssl.SSLContext


@pytest.fixture(scope="session")
def tls() -> Tls:
    """A test CA: the server's certificate for 127.0.0.1 and a client that trusts only it."""
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(server)
    client = ssl.create_default_context()
    authority.configure_trust(client)
    return Tls(server=server, client=client)


def password_check(
    server: SmtpServerProtocol, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    accepted = (
        isinstance(data, LoginPassword)
        and data.login == USERNAME.encode()
        and data.password == PASSWORD.encode()
    )
    # handled=False: aiosmtpd answers a refusal with 535 itself.
    return AuthResult(success=accepted, handled=False)


@dataclass
class SlackDouble:
    """A local Slack Web API: records chat.postMessage, answers errors for chosen channels."""

    calls: list[dict[str, Any]] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    base_url: str = ""

    async def post_message(self, request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            payload = await request.json()
        else:
            payload = dict(await request.post())
        if isinstance(payload.get("metadata"), str):
            payload["metadata"] = json.loads(payload["metadata"])
        channel = str(payload.get("channel"))
        if channel in self.errors:
            return web.json_response({"ok": False, "error": self.errors[channel]})
        self.calls.append(payload)
        return web.json_response(
            {"ok": True, "channel": channel, "ts": f"1700000000.{len(self.calls):06d}"}
        )


@pytest.fixture
async def slack() -> AsyncIterator[SlackDouble]:
    double = SlackDouble()
    app = web.Application()
    app.router.add_post("/api/chat.postMessage", double.post_message)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    double.base_url = f"http://127.0.0.1:{port}/api/"
    yield double
    await runner.cleanup()
