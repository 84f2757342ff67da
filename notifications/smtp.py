"""E-mail over SMTP with aiosmtplib: one connection per flush, reopened if it drops.

The mail transaction is aiosmtplib's ``sendmail`` taken apart at one point: MAIL, RCPT and
DATA go to the server at once, the content with the dot that ends it only when the
worker's gate opens (the previous e-mail's outcome is recorded). Until that dot the server
has accepted nothing, and a dropped connection makes it discard the e-mail.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from contextlib import suppress
from dataclasses import dataclass, field
from functools import partial

import aiosmtplib

from notifications.contract import Delivery, Gate, Send, TransportError, open_gate
from notifications.email_message import UnsafeHeader, email_bytes
from notifications.replies import ReplyAddresses
from store.models import QueueKind
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


_LINE_END = re.compile(rb"\r\n|\n|\r(?!\n)")
_LEADING_DOT = re.compile(rb"(?m)^\.")


@dataclass(frozen=True)
class Wire:
    """An e-mail as DATA transmits it: CRLF line ends, a leading dot doubled (RFC 5321
    4.5.2), the closing dot line; ``size`` as the SIZE extension counts it."""

    data: bytes
    size: int


def wire_form(content: bytes) -> Wire:
    # Our own e-mails (email_bytes) end their lines in "\n" alone and seldom start one with
    # a dot: a plain replace and a search then spare the regular expressions' CPU.
    lines = _LINE_END.sub(b"\r\n", content) if b"\r" in content else content.replace(b"\n", b"\r\n")
    if not lines.endswith(b"\r\n"):
        lines += b"\r\n"
    dotted = lines.startswith(b".") or b"\n." in lines
    return Wire((_LEADING_DOT.sub(b"..", lines) if dotted else lines) + b".\r\n", len(lines))


class _Dropped(Exception):
    """The server closed the connection; ``ended``: after the closing dot was sent, so it
    may have taken the e-mail."""

    def __init__(self, error: Exception, *, ended: bool) -> None:
        super().__init__(str(error))
        self.ended = ended


class SmtpNotifier:
    channel: str = QueueKind.EMAIL

    def __init__(self, config: SmtpConfig, *, replies: ReplyAddresses | None = None) -> None:
        self.config = config
        self.replies = replies
        self._client: aiosmtplib.SMTP | None = None
        # Between DATA and its closing dot: QUIT would only become a line of the e-mail.
        self._in_data = False
        # The closing dot of the current e-mail went out: the server may have taken it.
        self._ended = False

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
            if client.is_ehlo_or_helo_needed:
                # As sendmail would first thing: SIZE and SMTPUTF8 depend on the answer.
                try:
                    await client.ehlo()
                except aiosmtplib.SMTPHeloError:
                    await client.helo()
        except aiosmtplib.SMTPAuthenticationError as error:
            # Wrong credentials are the operator's to fix; the e-mail itself is fine.
            raise TransportError(
                f"SMTP login refused by {self.config.host}: {error.code} {error.message}"
            ) from error
        except aiosmtplib.SMTPException as error:
            client.close()
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
        await send(open_gate)

    async def prepare(self, delivery: Delivery) -> Send:
        try:
            content = email_bytes(
                delivery.rendered,
                sender=self.config.mail_from,
                recipient=delivery.recipient,
                message_id=delivery.message_id,
                date=utcnow(),
                reply_to=delivery.reply_to,
            )
        except UnsafeHeader as error:
            raise TransportError(str(error), permanent=True) from error
        return partial(self._deliver, wire_form(content), delivery.recipient)

    async def _deliver(self, wire: Wire, recipient: str, gate: Gate) -> None:
        # A server may drop an idle connection between two flushes: reconnect once, unless
        # it dropped after the closing dot (it may have the e-mail; the retry decides).
        for reconnects_left in (1, 0):
            client = await self._connected()
            try:
                await self._send(client, wire, recipient, gate)
                return
            except _Dropped as error:
                await self.close()
                if error.ended or not reconnects_left:
                    raise TransportError(
                        f"SMTP server {self.config.host} closed the connection: {error}"
                    ) from error

    async def _send(self, client: aiosmtplib.SMTP, wire: Wire, recipient: str, gate: Gate) -> None:
        sender = self.config.mail_from
        # As sendmail does: a non-ASCII address needs the server's SMTPUTF8, and the size
        # is announced where the server takes it (RFC 1870).
        utf8 = not (sender + recipient).isascii()
        options = ["SMTPUTF8"] if utf8 else []
        if client.supports_extension("size"):
            options.insert(0, f"size={wire.size}")
        encoding = "utf-8" if utf8 else "ascii"
        self._ended = False
        try:
            if utf8 and not client.supports_extension("smtputf8"):
                raise aiosmtplib.SMTPNotSupported("SMTPUTF8 is not supported by this server")
            try:
                async with self._answer():
                    await client.mail(sender, options=options, encoding=encoding, timeout=None)
                async with self._answer():
                    await client.rcpt(recipient, encoding=encoding, timeout=None)
                await self._data(client, wire, gate)
            except aiosmtplib.SMTPResponseException:
                # As sendmail does: reset the envelope for the next e-mail.
                with suppress(ConnectionError, aiosmtplib.SMTPException):
                    await client.rset()
                raise
        except aiosmtplib.SMTPServerDisconnected as error:
            raise _Dropped(error, ended=self._ended) from error
        except aiosmtplib.SMTPRecipientRefused as error:
            raise TransportError(
                f"recipient {recipient} refused: {error.code} {error.message}",
                permanent=_is_permanent(error.code),
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
        except TimeoutError as error:
            # Its late answer must not pass for the next command's: drop, do not QUIT.
            self._abort()
            raise TransportError(
                f"SMTP server {self.config.host} did not answer within {self.config.timeout:g} s"
            ) from error
        except (aiosmtplib.SMTPException, OSError) as error:
            await self.close()
            raise TransportError(f"SMTP delivery to {self.config.host} failed: {error}") from error

    def _answer(self) -> asyncio.Timeout:
        """The time the server has to answer one command.

        Kept here rather than passed to aiosmtplib, whose per-command ``wait_for`` costs two
        turns of the event loop per answer instead of one: in the app's process, where
        each turn also runs the requests in flight, the turns add up to most of an
        e-mail's time.
        """
        return asyncio.timeout(self.config.timeout)

    async def _data(self, client: aiosmtplib.SMTP, wire: Wire, gate: Gate) -> None:
        """DATA at once; the content with its closing dot once ``gate`` opens.

        The content waits too, though only the dot makes the e-mail final: written apart,
        each is one more wake-up of the server, and the content is one write either way.
        """
        protocol = client.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("Connection lost")
        async with self._answer():
            started = await client.execute_command(b"DATA", timeout=None)
        if started.code != aiosmtplib.SMTPStatus.start_input:
            raise aiosmtplib.SMTPDataError(started.code, started.message)
        self._in_data = True
        try:
            await gate()
        except BaseException:
            # The previous outcome is not recorded (or we are cancelled): this e-mail must
            # not go. Dropping the connection before the dot makes the server discard it.
            self._abort()
            raise
        # The read is armed before any answer can arrive: nothing awaits in between.
        protocol.write(wire.data)
        self._in_data, self._ended = False, True
        async with self._answer():
            response = await protocol.read_response(timeout=None)
        if response.code != aiosmtplib.SMTPStatus.completed:
            raise aiosmtplib.SMTPDataError(response.code, response.message)

    def _abort(self) -> None:
        client, self._client = self._client, None
        self._in_data = False
        if client is not None:
            client.close()

    async def close(self) -> None:
        if self._in_data:
            self._abort()
            return
        client, self._client = self._client, None
        if client is None or not client.is_connected:
            return
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()
