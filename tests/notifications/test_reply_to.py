"""Answer by e-mail, the sending side: which notices carry a Reply-To, and what they say.

Notices that invite an answer (N2 query, N1 offer, T10 reminder) carry
``antwort+<token>@<reply domain>`` with a token naming the tender and the recipient; without
a reply domain they carry no Reply-To and keep saying that answers are not read.
"""

from __future__ import annotations

from datetime import date
from email.message import EmailMessage

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications import SmtpNotifier, flush_outbox
from notifications.replies import ReplyAddresses
from store.db import transaction
from store.models import Broker
from store.outbox import enqueue_for_broker
from store.reminders import remind_expiring_offers
from store.reply_tokens import ReplyTokens, token_in
from tests.notifications.conftest import SmtpServer
from tests.notifications.helpers import bernd_asks, tender_with_offer

DOMAIN = "antwort.makler-plattform.example"
TOKENS = ReplyTokens("notification-test-secret-42")
REPLIES = ReplyAddresses(domain=DOMAIN, tokens=TOKENS)
NOT_READ = "Antworten auf diese E-Mail\nwerden nicht gelesen"


def plain(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def html(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("html",))
    assert body is not None
    return str(body.get_content())


async def test_it_gives_offer_query_and_reminder_notices_a_signed_reply_address(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    tender = await tender_with_offer(sessions, anna)
    await bernd_asks(sessions, tender.reference, "Gab es Vorschäden?")
    async with transaction(sessions) as session:
        await remind_expiring_offers(session, date(2026, 12, 30), [1])

    await flush_outbox(sessions, [SmtpNotifier(smtp.config(), replies=REPLIES)])

    mails = {(m.message["Subject"], m.rcpt_tos[0]): m.message for m in smtp.received}
    assert len(mails) == 6  # offer, query and reminder, each to Anna and her assistant
    for (subject, recipient), message in mails.items():
        token = token_in(str(message["Reply-To"]), DOMAIN)
        assert token is not None, subject
        claim = TOKENS.read(token)
        assert claim.reference == tender.reference
        assert TOKENS.names(claim, recipient)
        assert "Sie können direkt auf sie\nantworten" in plain(message)
        assert "Sie können direkt auf sie antworten" in html(message)
        assert NOT_READ not in plain(message)
    query = mails[(f"[{tender.reference}] Rückfrage vom Backoffice", anna.email)]
    assert "Antworten Sie einfach auf diese E-Mail" in plain(query)


async def test_it_sends_no_reply_address_and_the_old_footer_without_a_reply_domain(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    tender = await tender_with_offer(sessions, anna)
    await bernd_asks(sessions, tender.reference, "Gab es Vorschäden?")

    await flush_outbox(sessions, [SmtpNotifier(smtp.config())])

    assert len(smtp.received) == 4
    for mail in smtp.received:
        assert mail.message["Reply-To"] is None
        assert NOT_READ in plain(mail.message)
        assert "bitte antworten Sie in Slack" in plain(mail.message)


async def test_it_invites_no_answer_to_a_budget_notice(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    async with transaction(sessions) as session:
        await enqueue_for_broker(
            session,
            anna,
            "budget_distributed",
            {"year": 2026, "amount": "1500.00", "balance": "1800.00"},
        )

    await flush_outbox(sessions, [SmtpNotifier(smtp.config(), replies=REPLIES)])

    assert len(smtp.received) == 2
    for mail in smtp.received:
        assert mail.message["Reply-To"] is None
        assert NOT_READ in plain(mail.message)
