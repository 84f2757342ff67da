"""The queue worker's SMTP connection lives from drain to drain (notifications.KeptSenders).

The worker drains whenever a commit wakes it; opening and quitting a connection each time
cost more than the few e-mails a drain often carries. The connection is kept, reopened
when the server dropped it, closed when it sat idle too long, and quit at shutdown; no
e-mail is lost on the way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.queue_worker import queue_steps
from bot.settings import load_settings
from notifications import KeptSenders, SmtpNotifier
from store.models import Broker
from tests.notifications.conftest import MAIL_FROM, SmtpServer, StartSmtp
from tests.notifications.helpers import offer_rows, outbox

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Clock:
    """The monotonic clock KeptSenders reads, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_it_sends_drain_after_drain_over_one_connection_and_quits_it_at_close(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    senders = KeptSenders([SmtpNotifier(smtp.config())])

    for number in range(1, 4):
        await offer_rows(sessions, anna, reference=f"AS-2026-000{number}")
        result = await senders.drain(sessions)
        assert result.sent == 2
    still_open = smtp.handler.quits
    await senders.close()

    assert len(smtp.received) == 6
    assert len(smtp.connections) == 1
    assert (still_open, smtp.handler.quits) == (0, 1)


async def test_it_reconnects_and_loses_nothing_when_the_server_drops_the_idle_connection(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    senders = KeptSenders([SmtpNotifier(smtp.config())])
    await offer_rows(sessions, anna)
    await senders.drain(sessions)

    smtp.drop_connections()
    await offer_rows(sessions, anna, reference="AS-2026-0002")
    result = await senders.drain(sessions)
    await senders.close()

    assert result.sent == 2
    assert len(smtp.received) == 4
    assert len(smtp.connections) == 2
    assert all(row.status == "sent" for row in await outbox(sessions, "email"))


async def test_it_keeps_the_e_mails_for_a_retry_while_the_server_is_down_and_then_reconnects(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, start_smtp: StartSmtp
) -> None:
    server = await start_smtp()
    senders = KeptSenders([SmtpNotifier(server.config())])

    with time_machine.travel(NOON, tick=False) as clock:
        await offer_rows(sessions, anna)
        await senders.drain(sessions)
        # The server goes away with the worker's connection open.
        server.drop_connections()
        await server.stop()
        await offer_rows(sessions, anna, reference="AS-2026-0002")
        down = await senders.drain(sessions)
        assert (down.sent, down.retried) == (0, 2)

        await server.start()
        clock.shift(timedelta(minutes=1))
        back = await senders.drain(sessions)
    await senders.close()

    assert back.sent == 2
    assert len(server.received) == 4
    assert all(row.status == "sent" for row in await outbox(sessions, "email"))


async def test_it_quits_a_connection_left_idle_and_opens_a_new_one_for_the_next_e_mail(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    clock = Clock()
    senders = KeptSenders([SmtpNotifier(smtp.config())], idle_seconds=30, clock=clock)
    await offer_rows(sessions, anna)
    await senders.drain(sessions)

    # The worker's polls find nothing to send: they do not count as use.
    clock.now += 20
    await senders.drain(sessions)
    clock.now += 20
    await offer_rows(sessions, anna, reference="AS-2026-0002")
    result = await senders.drain(sessions)

    assert result.sent == 2
    assert len(smtp.connections) == 2
    assert smtp.handler.quits == 1
    await senders.close()


async def test_it_gives_the_queue_worker_one_connection_that_close_quits(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    settings = load_settings(
        SMTP_HOST=smtp.host, SMTP_PORT=smtp.port, SMTP_STARTTLS=False, MAIL_FROM=MAIL_FROM
    )
    steps = queue_steps(settings, sessions, None)

    await offer_rows(sessions, anna)
    await steps.drain()
    await offer_rows(sessions, anna, reference="AS-2026-0002")
    await steps.drain()
    await steps.close()

    assert len(smtp.received) == 4
    assert len(smtp.connections) == 1
    assert smtp.handler.quits == 1
