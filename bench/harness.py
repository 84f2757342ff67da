"""What the bench scripts share: a fresh database per run, Anna's tenders with both cards,
load at a fixed concurrency or rate, and the percentiles they report.

A script puts the repository root first on ``sys.path`` (bench/pricing.py would shadow the
pricing package) and then imports this module as ``bench.harness``.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import text

from bot.localslack import LocalSlack
from bot.personas import ANNA, BERND, NAMES
from store.actors import Actor
from store.brokers import BrokerData, add_broker
from store.conversation import post_message
from store.db import is_postgres, make_engine, make_sessionmaker, transaction
from store.migrate import upgrade
from store.models import ThreadLink
from store.tender_input import RiskData, StartTender
from store.tenders import start_tender

# Broker Anna and backoffice Bernd (bot.personas) meet in Bernd's channel and Anna's DM.
CHANNEL = "C0BACKOFFICE"
ANNA_DM = "D0ANNA"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def with_schema(url: str, schema: str, create: bool) -> None:
    """Create or drop (with everything in it) a PostgreSQL schema."""
    engine = make_engine(url)
    async with engine.begin() as connection:
        statement = f'CREATE SCHEMA "{schema}"' if create else f'DROP SCHEMA "{schema}" CASCADE'
        await connection.execute(text(statement))
    await engine.dispose()


@dataclass(frozen=True)
class Database:
    url: str
    schema: str | None  # the run's own PostgreSQL schema; None on SQLite

    @property
    def name(self) -> str:
        return "SQLite" if self.schema is None else "PostgreSQL"


@asynccontextmanager
async def fresh_database(url: str | None, prefix: str = "bench") -> AsyncIterator[Database]:
    """A migrated, empty database for one run: with a PostgreSQL URL a new schema that is
    dropped afterwards; otherwise (``url`` None or SQLite) a temporary SQLite file."""
    if url is not None and is_postgres(url):
        schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
        await with_schema(url, schema, create=True)
        try:
            await asyncio.to_thread(upgrade, url, search_path=schema)
            yield Database(url, schema)
        finally:
            await with_schema(url, schema, create=False)
        return
    with tempfile.TemporaryDirectory() as directory:
        sqlite = url or f"sqlite+aiosqlite:///{directory}/{prefix}.db"
        await asyncio.to_thread(upgrade, sqlite)
        yield Database(sqlite, None)


@dataclass(frozen=True)
class Cards:
    """A tender of Anna's and where its two cards were posted."""

    reference: str
    backoffice_ts: str
    broker_ts: str


async def seed_tenders(
    database: Database, slack: LocalSlack, count: int, *, bernd_asks: bool = False
) -> list[Cards]:
    """Anna and ``count`` open tenders of hers, each with both cards posted in ``slack``;
    with ``bernd_asks`` Bernd has written first, so the module is open (rule M2)."""
    engine = make_engine(database.url, search_path=database.schema)
    seeded: list[Cards] = []
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            anna = await add_broker(
                session,
                BrokerData(
                    slack_user_id=ANNA, number="4711", name=NAMES[ANNA], email="anna@example.org"
                ),
            )
            actor = Actor(slack_user_id=ANNA, role="broker", broker_id=anna.id, name=NAMES[ANNA])
            bernd = Actor(slack_user_id=BERND, role="backoffice", name=NAMES[BERND])
            for number in range(count):
                tender = await start_tender(
                    session,
                    actor,
                    StartTender(
                        product="haftpflicht",
                        customer_name=f"Bäckerei Korn {number}",
                        risk=RiskData(deductible=None, prior_claims="keine", description="Büro"),
                    ),
                )
                card = {"text": "Karte", "bot_id": "B0TENDERBOT"}
                backoffice = slack.state.post(CHANNEL, dict(card))["ts"]
                broker = slack.state.post(ANNA_DM, dict(card))["ts"]
                session.add_all(
                    [
                        ThreadLink(
                            tender_id=tender.id, side="backoffice", channel=CHANNEL, ts=backoffice
                        ),
                        ThreadLink(tender_id=tender.id, side="broker", channel=ANNA_DM, ts=broker),
                    ]
                )
                if bernd_asks:
                    await post_message(session, bernd, tender.reference, "Vorschäden?")
                seeded.append(Cards(tender.reference, backoffice, broker))
    finally:
        await engine.dispose()
    return seeded


async def hammer(
    send: Callable[[int], Awaitable[float]], total: int, concurrency: int
) -> tuple[float, list[float]]:
    """Closed loop: ``concurrency`` senders until ``total`` are sent; each ``send(number)``
    returns its latency. Returns the elapsed seconds and the latencies."""
    latencies: list[float] = []
    remaining = iter(range(total))

    async def sender() -> None:
        for number in remaining:
            latencies.append(await send(number))

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def paced(count: int, rate: float, one: Callable[[int], Awaitable[None]]) -> float:
    """Open loop: one start every 1/rate s, whatever the earlier ones do, as Slack users
    would; returns the elapsed seconds once all have finished."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    tasks = []
    for number in range(count):
        await asyncio.sleep(max(0.0, started + number / rate - loop.time()))
        tasks.append(asyncio.create_task(one(number)))
    await asyncio.gather(*tasks)
    return loop.time() - started


def p99(seconds: list[float]) -> float:
    """In milliseconds."""
    ordered = sorted(seconds)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def percentiles(seconds: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    return statistics.median(seconds) * 1000, p99(seconds)
