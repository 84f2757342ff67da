"""E-mail over SMTP with aiosmtplib: one connection per flush, reopened if it drops."""

from __future__ import annotations

import asyncio
import io
import ssl
from dataclasses import dataclass, field
from email.generator import BytesGenerator
from email.message import Message
from functools import partial

import aiosmtplib

from notifications.contract import Delivery, Send, TransportError
from notifications.email_message import UnsafeHeader, build_email
from notifications.replies import ReplyAddresses
from store.types import utcnow


@dataclass(frozen=True)
class SmtpConfig:
    """Plain values; bot/notifiers.py builds this from the settings."""

    host: str
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls_required: bool = True
    mail_from: str = "tenderbot@localhost"
    timeout: float = 30.0
    # Port 465 speaks TLS from the first byte instead of upgrading with STARTTLS.
    implicit_tls: bool = False
    # Tests and private relays pass their own CA; None means the system trust store.
    tls_context: ssl.SSLContext | None = field(default=None, repr=False, compare=False)


def _is_permanent(code: int) -> bool:
    return 500 <= code < 600


def serialised(message: Message) -> bytes:
    """The bytes aiosmtplib's send_message would put on the wire for our messages.

    Our e-mails are quoted-printable with encoded headers, i.e. plain ASCII, so the 7bit
    form is the same as the 8bit one and fits every server. Done here rather than inside
    send_message so it can happen while the previous e-mail is still on the wire.
    """
    with io.BytesIO() as buffer:
        # No mbox "From " mangling: that is for mailbox files and would show the broker a
        # ">From" wherever a line of the text starts with "From ".
        BytesGenerator(buffer, mangle_from_=False).flatten(message)
        return buffer.getvalue()


class SmtpNotifier:
    channel = "email"

    def __init__(self, config: SmtpConfig, *, replies: ReplyAddresses | None = None) -> None:
        self.config = config
        self.replies = replies
        self._client: aiosmtplib.SMTP | None = None

    def _new_client(self) -> aiosmtplib.SMTP:
        config = self.config
        return aiosmtplib.SMTP(
            hostname=config.host,
            port=config.port,
            username=config.username,
            password=config.password,
            timeout=config.timeout,
            use_tls=config.implicit_tls,
            # True refuses a server without STARTTLS; False never upgrades.
            start_tls=False if config.implicit_tls else config.starttls_required,
            tls_context=config.tls_context,
        )

    async def _connected(self) -> aiosmtplib.SMTP:
        if self._client is not None and self._client.is_connected:
            return self._client
        await self.close()
        client = self._new_client()
        try:
            await client.connect()
        except aiosmtplib.SMTPAuthenticationError as error:
            # Wrong credentials are the operator's to fix; the e-mail itself is fine.
            raise TransportError(
                f"SMTP login refused by {self.config.host}: {error.code} {error.message}"
            ) from error
        except aiosmtplib.SMTPException as error:
            raise TransportError(
                f"SMTP connection to {self.config.host}:{self.config.port} failed: {error}"
            ) from error
        except OSError as error:
            raise TransportError(
                f"SMTP connection to {self.config.host}:{self.config.port} failed: {error}"
            ) from error
        self._client = client
        return client

    async def notify(self, delivery: Delivery) -> None:
        send = await self.prepare(delivery)
        await send()

    async def prepare(self, delivery: Delivery) -> Send:
        try:
            message = build_email(
                delivery.rendered,
                sender=self.config.mail_from,
                recipient=delivery.recipient,
                message_id=delivery.message_id,
                date=utcnow(),
                reply_to=delivery.reply_to,
            )
        except UnsafeHeader as error:
            raise TransportError(str(error), permanent=True) from error
        # Serialising is the longest step: let an e-mail in flight answer the server first.
        await asyncio.sleep(0)
        return partial(self._deliver, serialised(message), delivery.recipient)

    async def _deliver(self, content: bytes, recipient: str) -> None:
        # A server may drop an idle connection between two flushes: reconnect once.
        for reconnects_left in (1, 0):
            client = await self._connected()
            try:
                await self._send(client, content, recipient)
                return
            except aiosmtplib.SMTPServerDisconnected as error:
                await self.close()
                if not reconnects_left:
                    raise TransportError(
                        f"SMTP server {self.config.host} closed the connection: {error}"
                    ) from error

    async def _send(self, client: aiosmtplib.SMTP, content: bytes, recipient: str) -> None:
        sender = self.config.mail_from
        # As send_message does: a non-ASCII address needs the server's SMTPUTF8 (refused
        # with SMTPNotSupported if it lacks it).
        options = [] if (sender + recipient).isascii() else ["SMTPUTF8"]
        try:
            await client.sendmail(sender, [recipient], content, mail_options=options)
        except aiosmtplib.SMTPServerDisconnected:
            raise
        except aiosmtplib.SMTPRecipientsRefused as error:
            refused = error.recipients[0]
            raise TransportError(
                f"recipient {recipient} refused: {refused.code} {refused.message}",
                permanent=_is_permanent(refused.code),
            ) from error
        except aiosmtplib.SMTPSenderRefused as error:
            # A refused sender address fails for every e-mail alike: retry, do not bury rows.
            raise TransportError(
                f"sender {self.config.mail_from} refused: {error.code} {error.message}"
            ) from error
        except aiosmtplib.SMTPResponseException as error:
            raise TransportError(
                f"SMTP error {error.code} {error.message}",
                permanent=_is_permanent(error.code),
            ) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            await self.close()
            raise TransportError(f"SMTP delivery to {self.config.host} failed: {error}") from error

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()
