"""The worker prepares the next e-mail while the previous one is on the wire.

Overlapping must change nothing a broker or an operator can see: the same bytes, the same
order, and every row keeps its own outcome, also across batches that overlap in a drain.
"""

from __future__ import annotations

from datetime import UTC, datetime

import aiosmtplib.email
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications import SmtpNotifier, drain_outbox, render
from notifications.email_message import build_email
from notifications.smtp import serialised
from store.db import transaction
from store.outbox import enqueue
from tests.notifications.conftest import SmtpServer
from tests.notifications.helpers import OFFER_CONTEXT, outbox

QUERY_CONTEXT = {
    "reference": "AS-2026-0001",
    "product_label": "Betriebshaftpflicht",
    "customer_name": "Bäckerei Korn GmbH & Söhne, Filiale Großostheim-Ringheim " * 3,
    "author_name": "Bernd Backoffice",
    # A line starting with "From " is where mbox-style generators differ.
    "body": "Bitte Umsatz 2025 nachreichen.\nFrom now on: Übersicht der Filialen = 3",
    "broker_name": "Anna Adler",
}


def test_it_serialises_an_e_mail_as_aiosmtplib_would_but_leaves_from_lines_alone() -> None:
    rendered = render("query", QUERY_CONTEXT, channel="email")
    message = build_email(
        rendered,
        sender="tenderbot@makler-plattform.example",
        recipient="anna@makler-adler.example",
        message_id="<0123456789abcdef@tenderbot>",
        date=datetime(2026, 11, 23, 12, 0, tzinfo=UTC),
    )

    content = serialised(message)

    # send_message writes old-style messages like an mbox file, where a line starting with
    # "From " becomes ">From "; in an e-mail that is only a garbled line for the broker.
    for cte_type in ("8bit", "7bit"):
        theirs = aiosmtplib.email.flatten_message(message, cte_type=cte_type)
        assert b"\n>From now on" in theirs
        assert content == theirs.replace(b"\n>From now on", b"\nFrom now on")
    assert content.isascii()


async def _queue(
    sessions: async_sessionmaker[AsyncSession], recipient: str, **context: object
) -> int:
    async with transaction(sessions) as session:
        row_id = await enqueue(
            session,
            channel="email",
            recipient=recipient,
            template="offer_available",
            context={**OFFER_CONTEXT, **context},
        )
    assert row_id is not None
    return row_id


async def test_it_keeps_each_rows_outcome_when_broken_rows_sit_between_deliverable_ones(
    sessions: async_sessionmaker[AsyncSession], smtp: SmtpServer
) -> None:
    smtp.handler.rcpt_replies["weg@makler-adler.example"] = "550 5.1.1 Unbekannt"
    smtp.handler.rcpt_replies["voll@makler-adler.example"] = "452 4.2.2 Postfach voll"
    recipients = [
        "anna@makler-adler.example",
        "kaputt@makler-adler.example",  # premium as float: cannot be rendered
        "weg@makler-adler.example",
        "assistenz@makler-adler.example",
        "voll@makler-adler.example",
        "carla@makler-ceran.example",
        "bernd@makler-plattform.example",
    ]
    for recipient in recipients:
        premium: object = 1234.5 if recipient.startswith("kaputt") else "1234.50"
        await _queue(sessions, recipient, premium=premium)

    # Batches of two: the overlapping claims and records of a drain cross the broken rows.
    result = await drain_outbox(sessions, [SmtpNotifier(smtp.config())], batch=2)

    assert (result.claimed, result.sent, result.retried, result.dead) == (7, 4, 1, 2)
    statuses = {row.recipient: row.status for row in await outbox(sessions)}
    assert statuses == {
        "anna@makler-adler.example": "sent",
        "kaputt@makler-adler.example": "dead",
        "weg@makler-adler.example": "dead",
        "assistenz@makler-adler.example": "sent",
        "voll@makler-adler.example": "pending",
        "carla@makler-ceran.example": "sent",
        "bernd@makler-plattform.example": "sent",
    }
    # One e-mail after the other, in the order the rows were written.
    assert [mail.rcpt_tos[0] for mail in smtp.received] == [
        "anna@makler-adler.example",
        "assistenz@makler-adler.example",
        "carla@makler-ceran.example",
        "bernd@makler-plattform.example",
    ]


async def test_it_records_every_batch_of_a_drain_and_stops_when_nothing_is_due(
    sessions: async_sessionmaker[AsyncSession], smtp: SmtpServer
) -> None:
    ids = [await _queue(sessions, f"makler{number}@makler-adler.example") for number in range(7)]

    first = await drain_outbox(sessions, [SmtpNotifier(smtp.config())], batch=3)
    second = await drain_outbox(sessions, [SmtpNotifier(smtp.config())], batch=3)

    assert (first.claimed, first.sent) == (7, 7)
    assert second.claimed == 0
    rows = await outbox(sessions)
    assert [row.id for row in rows] == ids
    assert all(row.status == "sent" and row.sent_at is not None for row in rows)
    assert all(row.attempts == 1 and row.lease_until is None for row in rows)
    assert len(smtp.received) == 7
