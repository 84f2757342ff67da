"""The one queue: ordering keys, heartbeat leases, Retry-After and the dead-letter notice."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import store.queue
from notifications import flush_outbox
from notifications.worker import heartbeat
from store.db import transaction
from store.models import QueueStatus
from store.queue import (
    Job,
    RetryPolicy,
    TransportError,
    claim_due,
    enqueue_rows,
    new_owner,
    recover_leases,
    row_values,
)
from tests.handlers.scenario import eventually
from tests.notifications.helpers import outbox, outbox_row

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


class Recording:
    """A sender of the ``post`` kind that remembers what it sent and fails on request."""

    kind = "post"

    def __init__(self, failures: dict[str, TransportError] | None = None) -> None:
        self.sent: list[str] = []
        self.failures = failures or {}

    async def send(self, job: Job) -> None:
        text = str(job.context["text"])
        failure = self.failures.pop(text, None)
        if failure is not None:
            raise failure
        self.sent.append(text)

    async def close(self) -> None:
        return None


async def posts(
    sessions: async_sessionmaker[AsyncSession], texts: list[str], key: str | None = "thread:1"
) -> list[int]:
    async with transaction(sessions) as session:
        return await enqueue_rows(
            session,
            [
                row_values("post", "C0BACKOFFICE", "text", {"text": t}, ordering_key=key)
                for t in texts
            ],
        )


async def test_it_keeps_a_later_post_of_a_thread_back_until_the_earlier_one_is_sent(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with time_machine.travel(NOON, tick=False) as clock:
        _, second, third = await posts(sessions, ["eins", "zwei", "drei"])
        await posts(sessions, ["anderer Thread"], key="thread:2")
        sender = Recording({"eins": TransportError("slack 500: internal_error")})
        policy = RetryPolicy(base=timedelta(seconds=10))

        first = await flush_outbox(sessions, [sender], policy=policy)
        handed_back = [await outbox_row(sessions, row_id) for row_id in (second, third)]
        # "zwei" and "drei" wait behind "eins" although they are due; the other thread not.
        waiting = await flush_outbox(sessions, [sender], policy=policy)
        clock.shift(timedelta(seconds=11))
        later = await flush_outbox(sessions, [sender], policy=policy)

    # The thread's three posts went in one claim; those behind the failed one went back
    # untried: no attempt used up, no lease left.
    assert (first.claimed, first.sent, first.retried) == (4, 1, 3)
    assert [(row.attempts, row.lease_owner) for row in handed_back] == [(0, None), (0, None)]
    assert waiting.claimed == 0
    assert (later.claimed, later.sent) == (3, 3)
    assert sender.sent == ["anderer Thread", "eins", "zwei", "drei"]


async def test_it_takes_a_threads_waiting_posts_in_one_claim_and_sends_them_in_order(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await posts(sessions, [f"Nachricht {number}" for number in range(1, 6)])
    sender = Recording()

    flushed = await flush_outbox(sessions, [sender])

    assert (flushed.claimed, flushed.sent) == (5, 5)
    assert sender.sent == [f"Nachricht {number}" for number in range(1, 6)]


async def test_it_leaves_a_threads_posts_behind_a_row_another_worker_holds(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, _ = await posts(sessions, ["eins", "zwei"])
    async with transaction(sessions) as session:
        # Another worker's claim holds "eins" (it is sending it right now).
        [held] = await store.queue.claim_due(
            session,
            kinds=["post"],
            batch=1,
            now=datetime.now(UTC),
            policy=RetryPolicy(),
            owner="other",
            ids=[first],
        )
    sender = Recording()

    flushed = await flush_outbox(sessions, [sender])

    assert held.id == first
    assert flushed.claimed == 0
    assert sender.sent == []


async def test_it_lets_a_dead_post_no_longer_hold_its_thread_back(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await posts(sessions, ["kaputt", "danach"])
    sender = Recording({"kaputt": TransportError("channel_not_found", permanent=True)})

    dead = await flush_outbox(sessions, [sender])
    after = await flush_outbox(sessions, [sender])

    assert dead.dead == 1
    assert after.sent == 1
    assert sender.sent == ["danach"]


async def test_it_waits_at_least_as_long_as_slack_asks_and_spreads_the_retries() -> None:
    policy = RetryPolicy(base=timedelta(seconds=2), rng=random.Random(7))

    delays = [policy.delay(1, retry_after=timedelta(seconds=30)) for _ in range(20)]

    assert all(timedelta(seconds=30) <= delay <= timedelta(seconds=37.5) for delay in delays)
    assert len(set(delays)) > 1
    assert timedelta(seconds=1) <= policy.delay(1) <= timedelta(seconds=2)


async def test_it_tells_the_backoffice_once_when_something_is_dead_lettered(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    [row_id] = await posts(sessions, ["kaputt"])
    sender = Recording({"kaputt": TransportError("is_archived", permanent=True)})

    await flush_outbox(sessions, [sender], dead_letters_to="C0BACKOFFICE")
    async with transaction(sessions) as session:
        await recover_leases(session, datetime.now(UTC), RetryPolicy())

    [notice] = await outbox(sessions, "slack")
    assert (notice.recipient, notice.template) == ("C0BACKOFFICE", "dead_letter")
    assert notice.context == {
        "row_id": row_id,
        "kind": "post",
        "template": "text",
        "error": "is_archived",
    }
    assert (await outbox_row(sessions, row_id)).last_error == "is_archived"


async def test_it_renews_the_lease_while_the_worker_lives_and_lets_it_expire_after(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    [row_id] = await posts(sessions, ["lang"])
    policy = RetryPolicy(lease=timedelta(seconds=0.6))
    owner = new_owner()
    async with transaction(sessions) as session:
        [job] = await claim_due(
            session, kinds=["post"], batch=5, now=datetime.now(UTC), policy=policy, owner=owner
        )
    claimed_until = (await outbox_row(sessions, row_id)).lease_until
    assert claimed_until is not None

    async def renewed() -> bool:
        until = (await outbox_row(sessions, row_id)).lease_until
        return until is not None and until > claimed_until

    async with heartbeat(sessions, owner, policy):
        # A heartbeat, not a fixed sleep: on a busy machine a beat can come late.
        await eventually(renewed, 30)
        renewed_until = (await outbox_row(sessions, row_id)).lease_until
        assert renewed_until is not None
        # Past the first lease, within the renewed one: another worker gets nothing.
        async with transaction(sessions) as session:
            while_alive = await claim_due(
                session,
                kinds=["post"],
                batch=5,
                now=claimed_until + timedelta(milliseconds=1),
                policy=policy,
                owner="b",
            )
    last_until = (await outbox_row(sessions, row_id)).lease_until
    assert last_until is not None
    # The heartbeat ended with the block (a slow machine can only hide a late beat here,
    # never fail the test).
    await asyncio.sleep(2 * policy.heartbeat.total_seconds())
    assert (await outbox_row(sessions, row_id)).lease_until == last_until
    # Nobody renews it any more: once the last lease has run out, another worker takes it.
    async with transaction(sessions) as session:
        after_death = await claim_due(
            session,
            kinds=["post"],
            batch=5,
            now=last_until + timedelta(milliseconds=1),
            policy=policy,
            owner="b",
        )

    assert job.id == row_id
    assert renewed_until > claimed_until
    assert while_alive == []
    assert [taken.id for taken in after_death] == [row_id]
    assert after_death[0].attempts == 2


class WaitingForTheLeaseToLapse(Recording):
    """Sends the first row only once its lease has run out in the database (as when the
    pool starves and no renewal gets through during a slow send)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        super().__init__()
        self.sessions = sessions

    async def send(self, job: Job) -> None:
        if not self.sent:

            async def lapsed() -> bool:
                until = (await outbox_row(self.sessions, job.id)).lease_until
                return until is not None and until < datetime.now(UTC)

            await eventually(lapsed, 60)
        await super().send(job)


async def test_it_starts_no_send_once_the_lease_can_no_longer_be_renewed(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = await posts(sessions, ["eins", "zwei", "drei"], key=None)
    renewals: list[str] = []

    async def starved(session: AsyncSession, owner: str, until: datetime) -> int:
        renewals.append(owner)
        raise TimeoutError("QueuePool limit reached, connection timed out")

    monkeypatch.setattr(store.queue, "renew_leases", starved)
    first = WaitingForTheLeaseToLapse(sessions)
    stopped = await flush_outbox(
        sessions, [first], policy=RetryPolicy(lease=timedelta(seconds=0.6))
    )
    monkeypatch.undo()
    # The rows it did not start are another worker's once their lease has run out.
    second = Recording()
    later = await flush_outbox(sessions, [second])

    assert renewals
    assert first.sent == ["eins"]
    assert (stopped.claimed, stopped.sent, stopped.abandoned) == (3, 1, 2)
    assert second.sent == ["zwei", "drei"]
    assert (later.claimed, later.sent) == (2, 2)
    assert [(await outbox_row(sessions, i)).status for i in ids] == [QueueStatus.SENT] * 3
