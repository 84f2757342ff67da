"""What operators see: ``GET /metrics``, ``GET /readyz`` next to ``/healthz``."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import aiohttp
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.localslack import LocalSlack, SignedSender
from bot.localslack.running import RunningApp, running_app
from bot.settings import Settings
from notifications import LocalSinkNotifier, TransportError, drain_outbox
from notifications.contract import Delivery
from store import metrics
from store.db import make_engine, make_sessionmaker, transaction
from store.migrate import upgrade
from store.models import Broker, QueueRow
from store.types import utcnow
from tests.notifications.helpers import enqueue_offer_mail


async def get(running: RunningApp, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{running.base_url}{path}") as response,
    ):
        return response.status, await response.text()


def sample(exposition: str, name: str, **labels: str) -> float:
    """One sample's value from the Prometheus text format (0 when it is not there)."""
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    for line in exposition.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if match and match.group(1) == name:
            found = ",".join(sorted((match.group(2) or "").split(",")))
            if found == wanted:
                return float(match.group(3))
    return 0.0


class Refusing:
    channel = "email"

    async def notify(self, delivery: Delivery) -> None:
        raise TransportError("421 try again later")

    async def close(self) -> None:
        return None


async def queue_mail(sessions: async_sessionmaker[AsyncSession], anna: Broker) -> None:
    async with transaction(sessions) as session:
        await enqueue_offer_mail(session, anna)


async def test_it_counts_requests_by_listener_with_their_latency(
    served: RunningApp, slack_request: SignedSender, slack: LocalSlack
) -> None:
    _, before = await get(served, "/metrics")

    response = await slack_request.send_command("U0ANNA", "/angebote", "hilfe")
    await slack.wait_for(lambda: len(slack.responses("U0ANNA")) == 1)
    status, after = await get(served, "/metrics")

    assert (response.status, status) == (200, 200)
    labels = {"listener": "/angebote", "status": "200"}
    assert sample(after, "tenderbot_requests_total", **labels) == 1 + sample(
        before, "tenderbot_requests_total", **labels
    )
    assert sample(after, "tenderbot_request_seconds_count", listener="/angebote") >= 1


async def test_it_shows_queue_depth_deliveries_and_retries_by_kind(
    served: RunningApp,
    sessions: async_sessionmaker[AsyncSession],
    anna: Broker,
    tmp_path: Path,
) -> None:
    await queue_mail(sessions, anna)
    _, queued = await get(served, "/metrics")
    retries_before = metrics.value(metrics.RETRIES, kind="email", reason="transient")
    sent_before = metrics.value(metrics.DELIVERIES, kind="email")

    await drain_outbox(sessions, [Refusing()])
    _, refused = await get(served, "/metrics")
    async with transaction(sessions) as session:
        # The retry is due now, not after its backoff: the test need not wait.
        await session.execute(update(QueueRow).values(next_attempt_at=utcnow()))
    await drain_outbox(sessions, [LocalSinkNotifier(tmp_path, mail_from="bot@example.org")])
    _, sent = await get(served, "/metrics")

    assert sample(queued, "tenderbot_queue_depth", kind="email") == 1
    assert sample(queued, "tenderbot_queue_oldest_due_seconds", kind="email") >= 0
    assert sample(refused, "tenderbot_retries_total", kind="email", reason="transient") == (
        retries_before + 1
    )
    assert sample(sent, "tenderbot_deliveries_total", kind="email") == sent_before + 1
    assert sample(sent, "tenderbot_queue_depth", kind="email") == 0
    # Shown before anything was delivered, so an alert on it has a series from the start.
    assert 'tenderbot_deliveries_total{kind="thread"}' in sent


async def test_it_is_ready_when_the_database_is_current(served: RunningApp) -> None:
    assert await get(served, "/readyz") == (200, '{"status": "ok", "database": "ok"}')


async def test_it_is_not_ready_while_the_database_is_unreachable_or_not_migrated(
    slack_settings: Settings, slack: LocalSlack, tmp_path: Path
) -> None:
    old = tmp_path / "old.db"
    await asyncio.to_thread(upgrade, f"sqlite+aiosqlite:///{old}", "0001")
    answers = []
    for url in (f"sqlite+aiosqlite:///{tmp_path}/missing/none.db", f"sqlite+aiosqlite:///{old}"):
        engine = make_engine(url)
        try:
            async with running_app(slack_settings, make_sessionmaker(engine), slack) as running:
                answers.append(await get(running, "/readyz"))
                # Liveness stays a liveness check: the process itself is fine.
                answers.append((await get(running, "/healthz"))[:1])
        finally:
            await engine.dispose()

    assert answers == [
        (503, '{"status": "error", "database": "unreachable"}'),
        (503,),
        (503, '{"status": "error", "database": "not migrated"}'),
        (200,),
    ]
