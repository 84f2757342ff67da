"""Mail-in: a broker's e-mail answer to a notice becomes a message of the tender's thread.

An aiosmtpd handler (bot/mail_in.py runs the server). Every refusal is given in the SMTP
dialogue, never as a bounce to a sender that may be forged: 550 at RCPT for an address
that is not a genuine reply address, 550 after DATA for what the store refuses (wrong
sender, closed tender, conversation not yet opened, an empty answer, a refused file). A
database or any other failure answers 451, so the sending server tries again later and
nothing is lost. Automatic mail (out-of-office notes, bounces) is accepted and dropped, so
nothing answers anything and no loop can start.
"""

from __future__ import annotations

import asyncio
import logging
import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.mail_parsing import AutoReply, UnreadableMail, read_reply
from store.db import transaction
from store.errors import (
    AccessDenied,
    ConversationNotOpen,
    DomainError,
    NotFound,
    TenderClosed,
)
from store.mail_replies import MailReply, take_mail_reply
from store.reply_tokens import InvalidToken, ReplyTokens, token_in
from store.types import utcnow

logger = logging.getLogger("tenderbot.mailin")

# Delivers the queue rows of a stored answer right away (the fast path of bot/).
Deliver = Callable[[Sequence[int]], Awaitable[object]]

ACCEPTED = "250 2.0.0 Ihre Antwort ist angekommen"
DROPPED = "250 2.0.0 OK"
NOT_OURS = (
    "550 5.1.1 Unbekannte Adresse: hier werden nur Antworten auf "
    "tenderbot-Benachrichtigungen angenommen"
)
BAD_TOKEN = "550 5.1.1 Diese Antwortadresse ist ungültig"
ONE_ADDRESS = "452 4.5.3 Bitte nur eine Antwortadresse je E-Mail"
EMPTY = "550 5.6.0 Die Antwort enthält keinen neuen Text (nur Zitat oder Signatur)"
TRY_LATER = "451 4.3.0 Vorübergehender Fehler bei tenderbot, bitte später erneut senden"
NO_SENDER = "550 5.6.0 {reason}"
SHORT_REASONS: dict[type[DomainError], str] = {
    AccessDenied: "550 5.7.1 Antworten werden nur von der Adresse angenommen, an die die "
    "Benachrichtigung ging",
    NotFound: "550 5.1.1 Diese Antwortadresse gehört zu keiner Ausschreibung",
    ConversationNotOpen: "550 5.7.1 Zu {reference} hat das Backoffice noch keine Unterhaltung "
    "eröffnet; bitte wenden Sie sich an die Kontaktdaten auf Ihrer Startseite",
    TenderClosed: "550 5.7.1 Die Ausschreibung {reference} ist abgeschlossen; neue Nachrichten "
    "werden nicht mehr weitergeleitet",
}


_SPELT_OUT = str.maketrans(
    {"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ß": "ss"}
    | {"„": '"', "“": '"', "”": '"', "–": "-"}
)


def smtp_text(reply: str) -> str:
    """SMTP replies are ASCII: umlauts spelt out, typographic quotes made plain."""
    reply = reply.translate(_SPELT_OUT)
    ascii_only = unicodedata.normalize("NFKD", reply).encode("ascii", "ignore").decode("ascii")
    return " ".join(ascii_only.split())


def refusal(error: DomainError, reference: str) -> str:
    for kind, text in SHORT_REASONS.items():
        if isinstance(error, kind):
            return smtp_text(text.format(reference=reference))
    # InvalidInput: an empty answer or a refused file; its own sentence says which.
    return smtp_text(f"550 5.7.1 {error.message_de}")


class MailIn:
    """The aiosmtpd handler for the reply domain; ``deliver`` shows a stored answer in Slack
    (None: the queue worker of ``tenderbot serve`` or ``scheduler`` does it)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        tokens: ReplyTokens,
        domain: str,
        deliver: Deliver | None = None,
    ) -> None:
        self.sessions = sessions
        self.tokens = tokens
        self.domain = domain
        self.deliver = deliver
        self._deliveries: set[asyncio.Task[object]] = set()

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        token = token_in(address, self.domain)
        if token is None:
            return smtp_text(NOT_OURS)
        try:
            self.tokens.read(token)
        except InvalidToken:
            logger.info("refused reply address %s: forged or altered token", address)
            return smtp_text(BAD_TOKEN)
        if envelope.rcpt_tos:
            # One tender per mail; the sending server delivers the rest in a later session.
            return smtp_text(ONE_ADDRESS)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        try:
            return await self._take(envelope)
        except Exception:
            logger.exception("mail-in failed; the sender is asked to try again")
            return smtp_text(TRY_LATER)

    async def _take(self, envelope: Any) -> str:
        token = token_in(envelope.rcpt_tos[0], self.domain) or ""
        reference = self.tokens.read(token).reference
        raw = envelope.original_content or envelope.content or b""
        try:
            mail = read_reply(bytes(raw), envelope.mail_from)
        except UnreadableMail as error:
            return smtp_text(NO_SENDER.format(reason=error.message_de))
        if isinstance(mail, AutoReply):
            logger.info("dropped an automatic mail to %s (%s)", reference, mail.reason)
            return DROPPED
        if not mail.text and not mail.attachments:
            return smtp_text(EMPTY)
        reply = MailReply(
            token=token,
            sender=mail.sender,
            message_id=mail.message_id,
            body=mail.text,
            attachments=mail.attachments,
        )
        now = utcnow()
        try:
            async with transaction(self.sessions) as session:
                rows = await take_mail_reply(session, self.tokens, reply, now)
        except DomainError as error:
            logger.info("refused a reply from %s to %s: %s", mail.sender, reference, error)
            return refusal(error, reference)
        if rows is None:
            logger.info("reply %s to %s was taken before", mail.message_id, reference)
        else:
            logger.info("reply from %s stored in the thread of %s", mail.sender, reference)
            self._show(rows)
        return smtp_text(ACCEPTED)

    def _show(self, rows: Sequence[int]) -> None:
        # After the 250: the sending server need not wait for Slack. The message and its
        # queue rows are stored; if this fails, the queue worker posts it.
        if self.deliver is None or not rows:
            return
        task = asyncio.create_task(self._deliver(self.deliver, rows))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    @staticmethod
    async def _deliver(deliver: Deliver, rows: Sequence[int]) -> object:
        try:
            return await deliver(rows)
        except Exception:
            logger.exception("queue rows %s stay pending for the worker", list(rows))
            return None

    async def settle(self) -> None:
        """Wait for the Slack posts still under way (shutdown, tests)."""
        while self._deliveries:
            await asyncio.gather(*self._deliveries, return_exceptions=True)
