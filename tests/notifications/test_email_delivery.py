"""E-mails through the outbox to a real local SMTP server (rules N1, N2)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
import time_machine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications import SmtpNotifier, drain_outbox, flush_outbox
from store.models import Broker
from store.queue import RetryPolicy
from tests.notifications.conftest import (
    MAIL_FROM,
    PASSWORD,
    USERNAME,
    MailHandler,
    SmtpServer,
    StartSmtp,
    Tls,
    password_check,
)
from tests.notifications.helpers import (
    bernd_asks,
    offer_rows,
    outbox,
    outbox_row,
    tender_with_offer,
)

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _bodies(message: EmailMessage) -> tuple[str, str]:
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    # On the wire every line ends in CRLF; compare text as written.
    return (
        plain.get_content().replace("\r\n", "\n"),
        html.get_content().replace("\r\n", "\n"),
    )


async def test_it_emails_broker_anna_and_her_cc_when_an_offer_arrives_rule_n1(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    tender = await tender_with_offer(sessions, anna)

    result = await flush_outbox(sessions, [SmtpNotifier(smtp.config())])

    assert result.sent == 2
    assert sorted(mail.rcpt_tos[0] for mail in smtp.received) == [
        "anna@makler-adler.example",
        "assistenz@makler-adler.example",
    ]
    mail = smtp.received[0]
    assert mail.mail_from == MAIL_FROM
    assert mail.message["Subject"] == f"[{tender.reference}] Neues Angebot verfügbar"
    assert mail.message["From"] == f"tenderbot <{MAIL_FROM}>"
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message.get_content_type() == "multipart/alternative"
    plain, html = _bodies(mail.message)
    assert "Beitrag:      1.234,50\xa0€" in plain
    assert "Gültig bis:   31.12.2026" in plain
    assert f"/angebote {tender.reference}" in plain
    assert "<strong>Allianz</strong>" in html


async def test_it_sends_each_e_mail_with_the_message_id_fixed_in_its_row(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    await tender_with_offer(sessions, anna)

    await flush_outbox(sessions, [SmtpNotifier(smtp.config())])

    rows = {row.recipient: row for row in await outbox(sessions, "email") if row.kind == "email"}
    for mail in smtp.received:
        row = rows[mail.rcpt_tos[0]]
        assert mail.message["Message-ID"] == row.message_id
        assert mail.message["To"] == row.recipient
        assert row.status == "sent"
        assert row.sent_at is not None
    assert len({mail.message["Message-ID"] for mail in smtp.received}) == 2


async def test_it_emails_a_query_from_backoffice_bernd_rule_n2(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    tender = await tender_with_offer(sessions, anna)
    await flush_outbox(sessions, [SmtpNotifier(smtp.config())])
    smtp.received.clear()

    await bernd_asks(sessions, tender.reference, "Gab es Vorschäden?\nBitte mit Datum.")
    await flush_outbox(sessions, [SmtpNotifier(smtp.config())])

    assert len(smtp.received) == 2
    message = smtp.received[0].message
    assert message["Subject"] == f"[{tender.reference}] Rückfrage vom Backoffice"
    plain, _html = _bodies(message)
    assert "> Gab es Vorschäden?\n> Bitte mit Datum." in plain
    assert f"im Thread der Ausschreibung {tender.reference}" in plain


@pytest.mark.parametrize("drain", [False, True])
async def test_it_reuses_one_smtp_connection_for_a_whole_batch_and_a_whole_drain(
    sessions: async_sessionmaker[AsyncSession],
    anna: Broker,
    carla: Broker,
    smtp: SmtpServer,
    drain: bool,
) -> None:
    for _ in range(3):
        await offer_rows(sessions, anna)
        await offer_rows(sessions, carla)
    sessions_seen: set[int] = set()
    original = smtp.handler.handle_DATA

    async def remember_session(server, session, envelope):  # type: ignore[no-untyped-def]
        sessions_seen.add(id(session))
        return await original(server, session, envelope)

    smtp.handler.handle_DATA = remember_session  # type: ignore[method-assign]

    notifiers = [SmtpNotifier(smtp.config())]
    if drain:
        result = await drain_outbox(sessions, notifiers, batch=2)
    else:
        result = await flush_outbox(sessions, notifiers)

    assert result.sent == 9
    assert len(smtp.received) == 9
    assert len(sessions_seen) == 1


async def test_it_upgrades_to_starttls_with_a_trusted_certificate(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, start_smtp: StartSmtp, tls: Tls
) -> None:
    server = await start_smtp(tls_context=tls.server, require_starttls=True)
    await offer_rows(sessions, anna)

    result = await flush_outbox(
        sessions,
        [SmtpNotifier(server.config(starttls_required=True, tls_context=tls.client))],
    )

    assert result.sent == 2
    assert all(mail.over_tls for mail in server.received)


async def test_it_sends_nothing_in_clear_text_when_starttls_is_required_but_not_offered(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    await offer_rows(sessions, anna)

    result = await flush_outbox(sessions, [SmtpNotifier(smtp.config(starttls_required=True))])

    assert result.sent == 0
    assert result.retried == 2
    assert smtp.received == []
    assert all("STARTTLS" in (row.last_error or "") for row in await outbox(sessions, "email"))


@pytest.fixture
async def login_smtp(start_smtp: StartSmtp, tls: Tls) -> SmtpServer:
    """An SMTP server that takes mail only over STARTTLS and after a login."""
    return await start_smtp(
        tls_context=tls.server,
        require_starttls=True,
        authenticator=password_check,
        auth_required=True,
    )


async def test_it_logs_in_when_credentials_are_set(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, login_smtp: SmtpServer, tls: Tls
) -> None:
    server = login_smtp
    await offer_rows(sessions, anna)
    config = server.config(
        starttls_required=True, tls_context=tls.client, username=USERNAME, password=PASSWORD
    )

    result = await flush_outbox(sessions, [SmtpNotifier(config)])

    assert result.sent == 2
    assert all(mail.authenticated and mail.over_tls for mail in server.received)


async def test_it_keeps_the_rows_for_a_retry_when_the_login_is_refused(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, login_smtp: SmtpServer, tls: Tls
) -> None:
    server = login_smtp
    await offer_rows(sessions, anna)
    config = server.config(
        starttls_required=True, tls_context=tls.client, username=USERNAME, password="falsch"
    )

    result = await flush_outbox(sessions, [SmtpNotifier(config)])

    assert (result.sent, result.retried, result.dead) == (0, 2, 0)
    assert server.received == []
    rows = await outbox(sessions, "email")
    assert all(row.status == "pending" for row in rows)
    assert all("login refused" in (row.last_error or "") for row in rows)


async def test_it_refuses_a_recipient_that_would_inject_headers(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    anna.cc_emails = ["assistenz@makler-adler.example\r\nBcc: spion@evil.example"]
    await offer_rows(sessions, anna)

    result = await flush_outbox(sessions, [SmtpNotifier(smtp.config())])

    assert (result.sent, result.dead) == (1, 1)
    assert [mail.rcpt_tos for mail in smtp.received] == [["anna@makler-adler.example"]]
    dead = [row for row in await outbox(sessions, "email") if row.status == "dead"]
    assert "not a usable e-mail address" in (dead[0].last_error or "")


async def test_it_keeps_line_breaks_in_context_out_of_the_headers(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    await offer_rows(sessions, anna, reference="AS-2026-0001\r\nBcc: spion@evil.example")

    result = await flush_outbox(sessions, [SmtpNotifier(smtp.config())])

    assert result.sent == 2
    for mail in smtp.received:
        assert mail.message["Bcc"] is None
        assert "spion@evil.example" not in mail.rcpt_tos
        assert mail.message["Subject"] == (
            "[AS-2026-0001 Bcc: spion@evil.example] Neues Angebot verfügbar"
        )


async def test_it_dead_letters_at_once_when_the_server_refuses_a_recipient_with_5xx(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    smtp.handler.rcpt_replies["assistenz@makler-adler.example"] = "550 5.1.1 Unbekannt"
    await offer_rows(sessions, anna)

    result = await flush_outbox(sessions, [SmtpNotifier(smtp.config())])

    assert (result.sent, result.retried, result.dead) == (1, 0, 1)
    rows = {row.recipient: row for row in await outbox(sessions, "email")}
    dead = rows["assistenz@makler-adler.example"]
    assert dead.status == "dead"
    assert dead.attempts == 1
    assert "550" in (dead.last_error or "")
    assert rows["anna@makler-adler.example"].status == "sent"


async def test_it_retries_a_4xx_answer_with_growing_backoff_and_then_dead_letters(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    smtp.handler.data_reply = "451 4.3.0 Try again later"
    policy = RetryPolicy(max_attempts=3, base=timedelta(minutes=1))
    waits = []

    with time_machine.travel(NOON, tick=False) as clock:
        [row_id, *_] = await offer_rows(sessions, anna)
        for _ in range(3):
            await flush_outbox(sessions, [SmtpNotifier(smtp.config())], policy=policy)
            row = await outbox_row(sessions, row_id)
            waits.append(row.next_attempt_at - datetime.now(UTC))
            clock.shift(timedelta(hours=1))

    assert timedelta(seconds=30) <= waits[0] <= timedelta(minutes=1)
    assert timedelta(minutes=1) <= waits[1] <= timedelta(minutes=2)
    assert row.status == "dead"
    assert row.attempts == 3
    assert "gave up after 3 attempts" in (row.last_error or "")
    assert smtp.received == []


async def test_it_retries_later_while_the_server_is_down_and_delivers_once_it_is_back(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, start_smtp: StartSmtp
) -> None:
    server = await start_smtp(MailHandler())
    notifier = SmtpNotifier(server.config())
    await server.stop()

    with time_machine.travel(NOON, tick=False) as clock:
        await offer_rows(sessions, anna)
        down = await flush_outbox(sessions, [notifier])
        rows = await outbox(sessions, "email")
        assert (down.sent, down.retried) == (0, 2)
        assert all(row.next_attempt_at > NOON for row in rows)
        assert all("connection" in (row.last_error or "").lower() for row in rows)

        await server.start()
        too_early = await flush_outbox(sessions, [notifier])
        assert too_early.claimed == 0

        clock.shift(timedelta(minutes=1))
        back = await flush_outbox(sessions, [notifier])

    assert back.sent == 2
    assert len(server.received) == 2
    assert all(
        row.status == "sent" and row.attempts == 2 for row in await outbox(sessions, "email")
    )


async def test_it_keeps_the_e_mails_for_a_retry_when_the_server_stops_answering(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    hang = asyncio.Event()
    smtp.handler.rcpt_held_until = hang
    notifier = SmtpNotifier(smtp.config(timeout=0.2))

    with time_machine.travel(NOON, tick=False) as clock:
        await offer_rows(sessions, anna)
        hung = await flush_outbox(sessions, [notifier])
        rows = await outbox(sessions, "email")
        hang.set()
        clock.shift(timedelta(minutes=1))
        back = await flush_outbox(sessions, [notifier])

    assert (hung.sent, hung.retried) == (0, 2)
    assert all("did not answer within 0.2 s" in (row.last_error or "") for row in rows)
    assert back.sent == 2
    assert len(smtp.received) == 2


async def test_it_reconnects_when_the_server_dropped_the_connection_between_flushes(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    notifier = SmtpNotifier(smtp.config())
    await offer_rows(sessions, anna)
    first = await flush_outbox(sessions, [notifier])
    await smtp.stop()
    await smtp.start()
    await offer_rows(sessions, anna, reference="AS-2026-0002")

    second = await flush_outbox(sessions, [notifier])

    assert (first.sent, second.sent) == (2, 2)
    assert len(smtp.received) == 4
