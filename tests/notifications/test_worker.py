"""The outbox worker: atomic claims, leases, rollback safety and the Slack side."""

from __future__ import annotations

import asyncio
import email
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from pathlib import Path

import pytest
import time_machine
from slack_sdk.web.async_client import AsyncWebClient
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications import (
    Delivery,
    LocalSinkNotifier,
    RetryPolicy,
    SlackDmNotifier,
    SmtpNotifier,
    TransportError,
    drain_outbox,
    flush_outbox,
    recover_leases,
    requeue_dead,
)
from store.db import transaction
from store.models import Broker
from store.queue import claim_due
from tests.notifications.conftest import MailHandler, SlackDouble, SmtpServer, StartSmtp
from tests.notifications.helpers import (
    OFFER_CONTEXT,
    enqueue_offer_mail,
    offer_rows,
    outbox,
    outbox_row,
    tender_with_offer,
)

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def slack_notifier(slack: SlackDouble) -> SlackDmNotifier:
    return SlackDmNotifier(AsyncWebClient(token="xoxb-test", base_url=slack.base_url))


class Blocking:
    """A notifier that holds every delivery until released, then fails or succeeds."""

    channel = "email"

    def __init__(self, *, fail: bool) -> None:
        self.fail = fail
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def notify(self, delivery: Delivery) -> None:
        self.started.set()
        await self.release.wait()
        if self.fail:
            raise TransportError("too slow, connection lost")

    async def close(self) -> None:
        return None


async def test_it_sends_nothing_when_the_causing_transaction_rolls_back(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as session:
            await enqueue_offer_mail(session, anna)
            raise RuntimeError("the offer could not be saved")

    result = await flush_outbox(sessions, [SmtpNotifier(smtp.config())])

    assert result.claimed == 0
    assert smtp.received == []
    assert await outbox(sessions) == []


async def test_it_sends_broker_anna_a_slack_dm_with_the_same_content(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, slack: SlackDouble
) -> None:
    tender = await tender_with_offer(sessions, anna)

    result = await flush_outbox(sessions, [slack_notifier(slack)])

    assert result.sent == 1
    [call] = slack.calls
    assert call["channel"] == "U0ANNA"
    assert f"*Neues Angebot zu {tender.reference}*" in call["text"]
    assert "1.234,50\xa0€" in call["text"]
    assert f"`/angebote {tender.reference}`" in call["text"]
    [row] = await outbox(sessions, "slack")
    assert call["metadata"]["event_payload"]["message_id"] == row.message_id
    assert row.status == "sent"


async def test_it_dead_letters_a_dm_slack_will_never_accept_and_retries_a_rate_limit(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, carla: Broker, slack: SlackDouble
) -> None:
    slack.errors = {"U0ANNA": "user_not_found", "U0CARLA": "ratelimited"}
    await offer_rows(sessions, anna)
    await offer_rows(sessions, carla)

    result = await flush_outbox(sessions, [slack_notifier(slack)])

    assert (result.sent, result.retried, result.dead) == (0, 1, 1)
    rows = {row.recipient: row for row in await outbox(sessions, "slack")}
    assert rows["U0ANNA"].status == "dead"
    assert "user_not_found" in (rows["U0ANNA"].last_error or "")
    assert rows["U0CARLA"].status == "pending"


@pytest.mark.parametrize(
    ("switched_off", "expected_channels"),
    [("notify_email", ["slack"]), ("notify_slack", ["email", "email"])],
)
async def test_it_honours_broker_annas_switched_off_channel(
    sessions: async_sessionmaker[AsyncSession],
    anna: Broker,
    smtp: SmtpServer,
    slack: SlackDouble,
    switched_off: str,
    expected_channels: list[str],
) -> None:
    async with transaction(sessions) as session:
        broker = await session.get(Broker, anna.id)
        assert broker is not None
        setattr(broker, switched_off, False)

    await tender_with_offer(sessions, anna)
    result = await flush_outbox(sessions, [SmtpNotifier(smtp.config()), slack_notifier(slack)])

    assert [row.kind for row in await outbox(sessions)] == expected_channels
    assert result.sent == len(expected_channels)
    assert len(smtp.received) == expected_channels.count("email")
    assert len(slack.calls) == expected_channels.count("slack")


async def test_it_leaves_rows_of_a_channel_without_notifier_for_another_worker(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    await offer_rows(sessions, anna)

    await flush_outbox(sessions, [SmtpNotifier(smtp.config())])

    [slack_row] = await outbox(sessions, "slack")
    assert (slack_row.status, slack_row.attempts, slack_row.lease_until) == ("pending", 0, None)


async def test_it_reclaims_a_row_once_the_lease_of_a_dead_worker_expired(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    policy = RetryPolicy(lease=timedelta(minutes=5))

    with time_machine.travel(NOON, tick=False) as clock:
        await offer_rows(sessions, anna)
        async with transaction(sessions) as session:
            # A worker claims and then dies before it sends or records anything.
            taken = await claim_due(
                session, kinds=["email"], owner="w1", batch=10, now=NOON, policy=policy
            )
        assert len(taken) == 2

        while_leased = await flush_outbox(sessions, [SmtpNotifier(smtp.config())], policy=policy)
        clock.shift(timedelta(minutes=5, seconds=1))
        after_expiry = await flush_outbox(sessions, [SmtpNotifier(smtp.config())], policy=policy)

    assert while_leased.claimed == 0
    assert after_expiry.sent == 2
    assert len(smtp.received) == 2
    assert all(row.attempts == 2 for row in await outbox(sessions, "email"))


async def test_it_lets_only_the_lease_holder_record_the_outcome(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    anna.cc_emails = []
    policy = RetryPolicy(lease=timedelta(minutes=5))
    stuck = Blocking(fail=True)

    with time_machine.travel(NOON, tick=False) as clock:
        await offer_rows(sessions, anna)
        first = asyncio.create_task(flush_outbox(sessions, [stuck], policy=policy))
        await stuck.started.wait()
        clock.shift(timedelta(minutes=6))
        second = await flush_outbox(sessions, [SmtpNotifier(smtp.config())], policy=policy)
        stuck.release.set()
        late = await first

    assert second.sent == 1
    assert late.retried == 1
    [row] = await outbox(sessions, "email")
    assert row.status == "sent"
    assert row.last_error is None
    assert len(smtp.received) == 1


async def test_it_dead_letters_a_row_whose_worker_died_on_every_attempt(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    anna.cc_emails = []
    policy = RetryPolicy(max_attempts=2, lease=timedelta(minutes=5))

    with time_machine.travel(NOON, tick=False) as clock:
        [row_id, _slack] = await offer_rows(sessions, anna)
        for _ in range(2):
            async with transaction(sessions) as session:
                await claim_due(
                    session,
                    kinds=["email"],
                    owner="w1",
                    batch=10,
                    now=datetime.now(UTC),
                    policy=policy,
                )
            clock.shift(timedelta(minutes=6))
        recovered = await recover_leases(sessions, policy=policy)

    row = await outbox_row(sessions, row_id)
    assert (recovered.dead, recovered.released) == (1, 0)
    assert row.status == "dead"
    assert row.lease_until is None
    assert "no attempts left (at most 2)" in (row.last_error or "")


async def test_it_dead_letters_a_row_it_cannot_render_and_an_operator_can_requeue_it(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, smtp: SmtpServer
) -> None:
    async with transaction(sessions) as session:
        row_id = await enqueue_offer_mail(session, anna, premium=1234.5)
    assert row_id is not None

    broken = await flush_outbox(sessions, [SmtpNotifier(smtp.config())])
    async with transaction(sessions) as session:
        requeued = await requeue_dead(session, row_id)
        requeued.context = {**OFFER_CONTEXT}
    repaired = await flush_outbox(sessions, [SmtpNotifier(smtp.config())])

    assert broken.dead == 1
    assert "before: cannot render" in (requeued.last_error or "")
    assert (requeued.status, requeued.attempts) == ("pending", 0)
    assert repaired.sent == 1
    assert len(smtp.received) == 1
    assert (await outbox_row(sessions, row_id)).status == "sent"


async def test_it_writes_eml_files_when_no_smtp_server_is_configured(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, tmp_path: Path
) -> None:
    tender = await tender_with_offer(sessions, anna)
    sink = LocalSinkNotifier(tmp_path / "outbox", mail_from="tenderbot@localhost")

    result = await flush_outbox(sessions, [sink])

    assert result.sent == 2
    files = sorted((tmp_path / "outbox").glob("*.eml"))
    assert len(files) == 2
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=default_policy)
    assert parsed["Subject"] == f"[{tender.reference}] Neues Angebot verfügbar"
    assert parsed.get_content_type() == "multipart/alternative"
    rows = await outbox(sessions, "email")
    assert {parsed["Message-ID"]} <= {row.message_id for row in rows}


@pytest.mark.postgres_only
async def test_it_never_sends_a_row_twice_with_several_workers_at_once(
    sessions: async_sessionmaker[AsyncSession], anna: Broker, start_smtp: StartSmtp
) -> None:
    server = await start_smtp(MailHandler(delay=0.002))
    for number in range(30):
        await offer_rows(sessions, anna, reference=f"AS-2026-{number:04d}")

    results = await asyncio.gather(
        *(drain_outbox(sessions, [SmtpNotifier(server.config())], batch=4) for _worker in range(4))
    )

    message_ids = [mail.message["Message-ID"] for mail in server.received]
    assert len(message_ids) == 60
    assert len(set(message_ids)) == 60
    assert sum(result.sent for result in results) == 60
    assert all(row.status == "sent" for row in await outbox(sessions, "email"))


async def test_it_claims_each_row_once_across_concurrent_claims(
    sessions: async_sessionmaker[AsyncSession], anna: Broker
) -> None:
    for number in range(10):
        await offer_rows(sessions, anna, reference=f"AS-2026-{number:04d}")

    async def claim() -> list[int]:
        async with transaction(sessions) as session:
            taken = await claim_due(
                session,
                kinds=["email"],
                owner="w1",
                batch=7,
                now=datetime.now(UTC),
                policy=RetryPolicy(),
            )
        return [row.id for row in taken]

    claims = await asyncio.gather(*(claim() for _ in range(4)))

    claimed = [row_id for ids in claims for row_id in ids]
    assert len(claimed) == 20
    assert len(set(claimed)) == 20
