"""Two `serve` and two `scheduler` processes on one PostgreSQL database: 200 tenders started,
200 offers and 400 thread messages while the local Slack answers 429 (with Retry-After), 500
and ``ok: false`` in bursts and the mail server is down for a while: every card, post and
e-mail arrives, none twice, thread posts in order. A ``kill -9`` of a scheduler mid-batch
hands its rows over after the short lease.
"""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.localslack import Fault, LocalSlack, SignedSender
from bot.localslack.running import LOCAL_SIGNING_SECRET
from bot.personas import ANNA
from store.db import transaction
from store.models import Broker, Message, Offer, QueueRow, Tender, ThreadLink
from store.outbox import enqueue_for_broker
from tests.conftest import BACKOFFICE_CHANNEL, BERND, add_personas
from tests.faults.fleet import Fleet, environment, fleet, free_port
from tests.notifications.conftest import MailHandler, SmtpServer
from tests.notifications.helpers import OFFER_CONTEXT

# Real processes and some 2,400 deliveries: far beyond the suite's 120 s per test when busy.
pytestmark = [pytest.mark.postgres_only, pytest.mark.timeout(900)]

TENDERS = 200
POSTS_PER_THREAD = 2
# Requests of one kind sent but not yet done: the desk's people send their next request once
# the last one shows, not at the ack (the work runs after it): a dozen at two replicas. More
# would hold more of the database's connections than a shared test server can spare.
IN_FLIGHT = 12


async def until(check: Callable[[], Awaitable[bool]], seconds: float, what: str) -> None:
    try:
        async with asyncio.timeout(seconds):
            while not await check():  # noqa: ASYNC110
                await asyncio.sleep(0.25)
    except TimeoutError:
        raise AssertionError(f"not within {seconds:.0f} s: {what}") from None


async def count(sessions: async_sessionmaker[AsyncSession], model: type[Any]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def queue_rows(sessions: async_sessionmaker[AsyncSession]) -> list[QueueRow]:
    async with sessions() as session:
        return list(await session.scalars(select(QueueRow).order_by(QueueRow.id)))


async def nothing_pending(sessions: async_sessionmaker[AsyncSession]) -> bool:
    return all(row.status != "pending" for row in await queue_rows(sessions))


@pytest.fixture
async def slack() -> Any:
    async with LocalSlack() as local:
        add_personas(local)
        yield local


def senders(ports: list[int], slack: LocalSlack) -> list[SignedSender]:
    return [
        SignedSender(f"http://127.0.0.1:{port}/slack/events", LOCAL_SIGNING_SECRET, slack)
        for port in ports
    ]


async def bernd_writes(
    sender: SignedSender, slack: LocalSlack, link: ThreadLink, text: str, event_id: str
) -> None:
    event: dict[str, Any] = {
        "type": "message",
        "channel": link.channel,
        "user": BERND,
        "text": text,
        "thread_ts": link.ts,
        "channel_type": "channel",
    }
    event["ts"] = slack.state.post(link.channel, dict(event))["ts"]
    response = await sender.send_event(event, event_id=event_id)
    assert response.status == 200


async def test_it_delivers_everything_once_through_replicas_while_slack_and_smtp_fail(
    anna: Broker,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    search_path: str | None,
    slack: LocalSlack,
    tmp_path: Path,
) -> None:
    smtp = SmtpServer(MailHandler())
    smtp.port = free_port()  # reserved now, listening only later: the mail server is down
    env = environment(database_url, search_path, slack, smtp.port)
    slack.inject_faults(
        ["chat.postMessage", "chat.update", "conversations.open"],
        every=3,
        faults=[Fault(status=429, retry_after=1), Fault(status=500), Fault(error="internal_error")],
    )
    async with fleet(env, tmp_path) as running:
        try:
            await _play(running, slack, smtp, sessions)
        except BaseException:
            print(running.logs())
            print(await queue_summary(sessions))
            raise
        finally:
            await smtp.stop()

    rows = await queue_rows(sessions)
    assert all(row.status == "sent" for row in rows), await queue_summary(sessions)
    # SIGTERM after the run: all four exit 0 within 10 s and leave no lease behind.
    assert running.exits == [0, 0, 0, 0]
    assert [row.id for row in rows if row.lease_owner or row.lease_until] == []
    # The faults did happen: Slack refused in all three ways, the mail server was away.
    refusals = {(c.status, c.response.get("error")) for c in slack.calls() if c.status != 200}
    assert {429, 500} <= {status for status, _error in refusals}
    assert any(c.response.get("error") == "internal_error" for c in slack.calls())
    assert any(row.attempts > 1 for row in rows if row.kind == "email")
    # Cards: one per side and tender, none twice. The channel may also hold the notice that
    # the yearly budget waits for its FIV figures (B2): the scheduler runs on the replicas.
    top_level = [
        m
        for m in slack.messages(BACKOFFICE_CHANNEL)
        if m.get("thread_ts") in (None, m["ts"]) and "Konzeptrabatt-Budget" not in m["text"]
    ]
    assert len(top_level) == TENDERS
    async with sessions() as session:
        links = list(await session.scalars(select(ThreadLink).order_by(ThreadLink.id)))
    assert Counter(link.side for link in links) == {"backoffice": TENDERS, "broker": TENDERS}
    # Thread posts: each arrives once, in the order written.
    for link in (link for link in links if link.side == "broker"):
        mirrored = [
            m["text"].split(": ", 1)[1]
            for m in slack.messages(link.channel, link.ts)
            if m["ts"] != link.ts and m.get("bot_id")
        ]
        assert mirrored == [f"Frage {n} zu {link.tender_id}" for n in range(POSTS_PER_THREAD)]
    # E-mails: every queued one arrived, none twice.
    emails = [row.message_id for row in rows if row.kind == "email"]
    received = [mail.message["Message-ID"] for mail in smtp.received]
    assert len(emails) >= TENDERS * 2
    assert sorted(received) == sorted(emails)


async def _play(
    running: Fleet, slack: LocalSlack, smtp: SmtpServer, sessions: async_sessionmaker[AsyncSession]
) -> None:
    for _ in range(2):
        running.start_scheduler()
    # Both replicas start side by side: start-up is mostly imports, slow on a busy machine.
    ports = list(await asyncio.gather(running.start_serve(), running.start_serve()))
    replicas = senders(ports, slack)
    for replica in replicas:
        await replica.__aenter__()
    try:
        for number in range(TENDERS):
            await _pace(sessions, Tender, number, "tenders stored")
            response = await replicas[number % 2].send_command(
                ANNA,
                "/ausschreibung",
                f'neu sparte=sach kunde="Kunde {number}" vorschaeden=keine beschreibung="Lager"',
            )
            assert response.status == 200
        await until(lambda: _counted(sessions, Tender, TENDERS), 120, "all tenders stored")
        valid = (date.today() + timedelta(days=60)).strftime("%d.%m.%Y")
        async with sessions() as session:
            tenders = list(await session.scalars(select(Tender).order_by(Tender.id)))
        for number, tender in enumerate(tenders):
            await _pace(sessions, Offer, number, "offers stored")
            response = await replicas[number % 2].send_command(
                BERND,
                "/angebot",
                f"{tender.reference} versicherer=Allianz beitrag=1.234,50 gueltig-bis={valid}",
            )
            assert response.status == 200
        await until(lambda: _counted(sessions, Offer, TENDERS), 120, "all offers stored")
        # Bernd writes in the backoffice threads: the cards that open them must be there.
        await until(lambda: _counted(sessions, ThreadLink, 2 * TENDERS), 180, "all cards posted")
        async with sessions() as session:
            backoffice = {
                link.tender_id: link
                for link in await session.scalars(
                    select(ThreadLink).where(ThreadLink.side == "backoffice")
                )
            }
        await smtp.start()  # the mail server is back, while the thread messages come in
        written = await count(sessions, Message)
        for n in range(POSTS_PER_THREAD):
            # One writer per thread writes one message after the other, as people do: the
            # next round starts once every thread holds this round's message.
            for number, tender in enumerate(tenders):
                await _pace(sessions, Message, written + n * TENDERS + number, "messages stored")
                await bernd_writes(
                    replicas[(number + n) % 2],
                    slack,
                    backoffice[tender.id],
                    f"Frage {n} zu {tender.id}",
                    f"Ev{tender.id}x{n}",
                )
            await until(
                lambda n=n: _counted(sessions, Message, written + (n + 1) * TENDERS),
                120,
                "thread messages stored",
            )
        slack.clear_faults()
        await until(lambda: nothing_pending(sessions), 180, "the queue drained")
    finally:
        for replica in replicas:
            await replica.close()


async def _pace(
    sessions: async_sessionmaker[AsyncSession], model: type[Any], sent: int, what: str
) -> None:
    """Wait until at most ``IN_FLIGHT`` of the ``sent`` requests are still being worked on."""
    await until(lambda: _counted(sessions, model, sent - IN_FLIGHT), 120, what)


async def _counted(
    sessions: async_sessionmaker[AsyncSession], model: type[Any], expected: int
) -> bool:
    return await count(sessions, model) >= expected


async def queue_summary(sessions: async_sessionmaker[AsyncSession]) -> str:
    """What an operator would ask of the queue after a failed run: how many rows of each
    kind in each state, and the last errors of those not sent."""
    rows = await queue_rows(sessions)
    states = Counter((row.kind, row.status) for row in rows)
    errors = Counter(
        (row.kind, row.status, row.attempts, (row.last_error or "")[:120])
        for row in rows
        if row.status != "sent"
    )
    return "\n".join(
        [f"queue: {sorted(states.items())}"]
        + [f"  {times} x {error}" for error, times in errors.most_common(15)]
    )


async def test_it_hands_a_killed_schedulers_rows_to_another_after_the_lease(
    anna: Broker,
    sessions: async_sessionmaker[AsyncSession],
    database_url: str,
    search_path: str | None,
    slack: LocalSlack,
    tmp_path: Path,
) -> None:
    anna.cc_emails = []
    anna.notify_slack = False
    for number in range(60):
        async with transaction(sessions) as session:
            await enqueue_for_broker(
                session, anna, "offer_available", {**OFFER_CONTEXT, "insurer": f"V{number}"}
            )
    # A slow mail server: the first scheduler is surely mid-batch when it is killed.
    smtp = SmtpServer(MailHandler(delay=0.05))
    await smtp.start()
    env = environment(database_url, search_path, slack, smtp.port)
    try:
        async with fleet(env, tmp_path) as running:
            first = running.start_scheduler()
            await until(lambda: _received(smtp, 5), 60, "the first scheduler sends")
            first.send_signal(signal.SIGKILL)
            first.wait()
            at_kill = len(smtp.received)
            # The only worker so far: every leased row is the dead one's.
            held = [row.id for row in await queue_rows(sessions) if row.lease_owner]
            running.start_scheduler()
            # The lease is 30 s; the rows the dead worker held move on after it.
            await until(lambda: nothing_pending(sessions), 90, "the second scheduler took over")
    finally:
        await smtp.stop()

    received = Counter(mail.message["Message-ID"] for mail in smtp.received)
    rows = await queue_rows(sessions)
    assert 5 <= at_kill < 60
    assert held, "the scheduler was killed holding no rows"
    assert {row.id for row in rows if row.id in held and row.status == "sent"} == set(held)
    assert running.exits == [0]  # the second scheduler, on SIGTERM
    # E-mails only: the scheduler may also queue its B2 notice to the backoffice channel.
    assert set(received) == {row.message_id for row in rows if row.kind == "email"}
    # At most the one e-mail accepted between SMTP and recording goes twice, same Message-ID.
    assert sum(times - 1 for times in received.values()) <= 1


async def _received(smtp: SmtpServer, at_least: int) -> bool:
    return len(smtp.received) >= at_least
