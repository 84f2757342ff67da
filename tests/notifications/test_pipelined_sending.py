"""The worker prepares the next e-mail while the previous one is on the wire.

Overlapping must change nothing a broker or an operator can see: the same bytes, the same
order, and every row keeps its own outcome, also across batches that overlap in a drain.
Recording overlaps the next e-mail's envelope, never its end: no two e-mails are ever
accepted by the server and not yet recorded.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiosmtplib.email
import aiosmtplib.protocol
import pytest
from aiosmtpd.smtp import SMTP as SmtpServerProtocol
from aiosmtpd.smtp import Envelope, Session
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications import SmtpNotifier, drain_outbox, render
from notifications.email_message import build_email, serialised
from notifications.smtp import wire_form
from store.db import make_engine, make_sessionmaker, transaction
from store.outbox import enqueue
from store.queue import Outcome, OutcomeLog, RetryPolicy, claim_due
from tests.notifications.conftest import MailHandler, SmtpServer, StartSmtp
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


@given(
    st.lists(
        st.sampled_from([b"\n", b"\r\n", b"\r", b".", b"..", b"a", b"From ", b"=2E", b"\xc3\xa4"])
    ).map(b"".join)
)
def test_it_puts_any_content_on_the_wire_as_aiosmtplibs_data_command_does(content: bytes) -> None:
    wire = wire_form(content)

    lines = aiosmtplib.protocol.normalize_message_line_endings(content)
    assert wire.data == aiosmtplib.protocol.PERIOD_REGEX.sub(b"..", lines) + b".\r\n"
    assert wire.size == len(lines)


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


class SeesRecipients(MailHandler):
    """Also notes each RCPT as it arrives, before the e-mail's content."""

    def __init__(self, awaited: str) -> None:
        super().__init__()
        self.rcpts_seen: list[str] = []
        self.awaited = awaited
        self.arrived = asyncio.Event()

    async def handle_RCPT(
        self,
        server: SmtpServerProtocol,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        self.rcpts_seen.append(address)
        if address == self.awaited:
            self.arrived.set()
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


async def test_it_finishes_no_e_mail_before_the_previous_outcome_is_recorded(
    sessions: async_sessionmaker[AsyncSession],
    start_smtp: StartSmtp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    handler = SeesRecipients(awaited="assistenz@makler-adler.example")
    server = await start_smtp(handler)
    for name in ("anna", "assistenz", "carla"):
        await _queue(sessions, f"{name}@makler-adler.example")
    first_record = asyncio.Event()
    database_back = asyncio.Event()
    write = OutcomeLog.write

    async def database_gone_on_the_first_record(
        log: OutcomeLog, outcome: Outcome, now: datetime
    ) -> None:
        if not first_record.is_set():
            first_record.set()
            await database_back.wait()
            raise ConnectionError("database connection lost")
        await write(log, outcome, now)

    monkeypatch.setattr(OutcomeLog, "write", database_gone_on_the_first_record)
    drain = asyncio.create_task(drain_outbox(sessions, [SmtpNotifier(server.config())]))

    # While Anna's outcome is written, the next e-mail's envelope is already at the server,
    # but the server has taken no second e-mail.
    async with asyncio.timeout(30):
        await handler.arrived.wait()
    assert first_record.is_set()
    assert [mail.rcpt_tos for mail in server.received] == [["anna@makler-adler.example"]]

    # The record fails: the waiting e-mail is dropped before its end, none is sent twice.
    database_back.set()
    with pytest.raises(ConnectionError, match="database connection lost"):
        await drain
    assert [mail.rcpt_tos for mail in server.received] == [["anna@makler-adler.example"]]
    assert "carla@makler-adler.example" not in handler.rcpts_seen
    assert {row.status for row in await outbox(sessions)} == {"pending"}


@pytest.mark.postgres_only
async def test_it_gives_the_recording_connection_back_with_durable_commits(
    database_url: str, search_path: str | None, smtp: SmtpServer
) -> None:
    # Two connections: the claim's and the one the outcomes are written on.
    engine = make_engine(database_url, search_path=search_path, pool_size=2, max_overflow=0)
    try:
        sessions = make_sessionmaker(engine)
        for name in ("anna", "assistenz"):
            await _queue(sessions, f"{name}@makler-adler.example")

        result = await drain_outbox(sessions, [SmtpNotifier(smtp.config())])

        assert result.sent == 2
        async with engine.connect() as first, engine.connect() as second:
            for connection in (first, second):
                setting = await connection.exec_driver_sql("SHOW synchronous_commit")
                assert setting.scalar() == "on"
    finally:
        await engine.dispose()


async def test_it_records_the_outcomes_of_two_kinds_at_once_on_its_one_connection(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # E-mails and Slack notices of one batch are delivered side by side, and their
    # outcomes land on the worker's one recording connection at the same moments.
    for name in ("anna", "assistenz", "carla", "bernd"):
        await _queue(sessions, f"{name}@makler-adler.example")
    async with transaction(sessions, write=True) as session:
        jobs = await claim_due(
            session,
            kinds=["email"],
            batch=4,
            now=datetime.now(UTC),
            policy=RetryPolicy(),
            owner="worker-1",
        )
    log = OutcomeLog(sessions.kw["bind"])
    first, *others = jobs
    await log.write(Outcome(first, "sent"), datetime.now(UTC))  # the connection is open

    await asyncio.gather(*(log.write(Outcome(job, "sent"), datetime.now(UTC)) for job in others))
    await log.close()

    assert [row.status for row in await outbox(sessions)] == ["sent"] * 4
