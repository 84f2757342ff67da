"""End-to-end latency of the thread mirror, next to a bare app that only acks the event.

A message written in one tender thread is timed from the signed event leaving the client
until the local Slack records the mirrored post in the other thread (store write, event
claim, commit, users.info, chat.postMessage, delivery bookkeeping). The baseline in the same
run is a bare Bolt ``AsyncApp`` that only acks the same events: its latency is the HTTP ack.
Both apps are served the same way (bot.http.build_web_app on aiohttp) in this process,
against the same local Slack, with the same bounded count and concurrency. Messages alternate
between backoffice Bernd (backoffice thread → Anna's DM) and broker Anna (the other way).

    .venv/bin/python bench/mirror.py [--messages 400] [--concurrency 10]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

With a PostgreSQL URL the run uses a fresh schema that it drops afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

# Run as a script: the repository root, not bench/ (bench/pricing.py would shadow pricing/).
sys.path[0] = str(Path(__file__).resolve().parents[1])

from slack_bolt.async_app import AsyncApp  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from bot.app import build_client, create_app  # noqa: E402
from bot.localslack import LocalSlack  # noqa: E402
from bot.localslack.running import LOCAL_SIGNING_SECRET, local_settings, running_app  # noqa: E402
from bot.settings import Settings  # noqa: E402
from store.actors import Actor  # noqa: E402
from store.brokers import BrokerData, add_broker  # noqa: E402
from store.conversation import post_message  # noqa: E402
from store.db import is_postgres, make_engine, make_sessionmaker, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import ThreadLink  # noqa: E402
from store.tender_input import RiskData, StartTender  # noqa: E402
from store.tenders import start_tender  # noqa: E402

ANNA = "U0ANNA"
BERND = "U0BERND"
CHANNEL = "C0BACKOFFICE"
ANNA_DM = "D0ANNA"
BARE = "bare AsyncApp (ack only)"
REAL = "tenderbot thread mirror (end to end)"

Send = Callable[[int], Awaitable[float]]


class MirrorIndex:
    """Which mirror texts the local Slack has recorded, read incrementally: each check only
    looks at calls recorded since the last one."""

    def __init__(self, slack: LocalSlack) -> None:
        self.slack = slack
        self.cursor = 0
        self.seen: set[str] = set()

    def has(self, marker: str) -> bool:
        calls = self.slack.calls()
        for call in calls[self.cursor :]:
            if call.method == "chat.postMessage" and call.params.get("username"):
                self.seen.add(str(call.params.get("text", "")).rsplit(" ", 1)[-1])
        self.cursor = len(calls)
        return marker in self.seen


async def prepare(sessions: async_sessionmaker[AsyncSession], slack: LocalSlack) -> tuple[str, str]:
    """Anna's tender with both cards and an opened module; returns the two card ts."""
    backoffice_card = slack.state.post(CHANNEL, {"text": "Karte", "bot_id": "B0TENDERBOT"})["ts"]
    broker_card = slack.state.post(ANNA_DM, {"text": "Karte", "bot_id": "B0TENDERBOT"})["ts"]
    async with transaction(sessions) as session:
        anna = await add_broker(
            session,
            BrokerData(
                slack_user_id=ANNA, number="4711", name="Anna Adler", email="anna@example.org"
            ),
        )
        actor = Actor(slack_user_id=ANNA, role="broker", broker_id=anna.id, name="Anna Adler")
        tender = await start_tender(
            session,
            actor,
            StartTender(
                product="haftpflicht",
                customer_name="Bäckerei Korn GmbH",
                risk=RiskData(deductible=None, prior_claims="keine", description="Backstube"),
            ),
        )
        session.add_all(
            [
                ThreadLink(
                    tender_id=tender.id, side="backoffice", channel=CHANNEL, ts=backoffice_card
                ),
                ThreadLink(tender_id=tender.id, side="broker", channel=ANNA_DM, ts=broker_card),
            ]
        )
        bernd = Actor(slack_user_id=BERND, role="backoffice", name="Bernd Backoffice")
        await post_message(session, bernd, tender.reference, "Vorschäden?")
    return backoffice_card, broker_card


def event_for(slack: LocalSlack, number: int, cards: tuple[str, str]) -> dict[str, Any]:
    user, channel, thread_ts = (
        (BERND, CHANNEL, cards[0]) if number % 2 == 0 else (ANNA, ANNA_DM, cards[1])
    )
    event: dict[str, Any] = {
        "type": "message",
        "channel": channel,
        "user": user,
        "text": f"Nachricht m{number:06d}",
        "thread_ts": thread_ts,
    }
    event["ts"] = slack.state.post(channel, dict(event))["ts"]
    return event


async def hammer(send: Send, total: int, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    remaining = iter(range(total))

    async def worker() -> None:
        for number in remaining:
            latencies.append(await send(number))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


def summary(name: str, elapsed: float, latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    mean = statistics.fmean(ordered) * 1000
    rate = len(ordered) / elapsed
    # The mean too: with a fixed number in flight it is concurrency / rate whatever the
    # spread, so it tells a faster path from one that only moved waiting into the tail.
    print(
        f"{name:<38} {rate:8.1f} msg/s   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms"
        f"   mean {mean:7.1f} ms"
    )
    return {"rate": rate, "p50": p50, "p99": p99, "mean": mean}


def bare_app(settings: Settings) -> AsyncApp:
    app = AsyncApp(signing_secret=LOCAL_SIGNING_SECRET, client=build_client(settings))

    @app.event("message")
    async def ack_only() -> None:
        return None

    return app


async def run(database_url: str, schema: str | None, total: int, concurrency: int) -> None:
    engine = make_engine(database_url, search_path=schema)
    sessions = make_sessionmaker(engine)
    try:
        async with LocalSlack() as slack:
            slack.add_user(ANNA, "Anna Adler")
            slack.add_user(BERND, "Bernd Backoffice")
            settings = local_settings(
                slack,
                database_url,
                backoffice_users=frozenset({BERND}),
                backoffice_channel=CHANNEL,
            )
            cards = await prepare(sessions, slack)
            results: dict[str, dict[str, float]] = {}

            async with running_app(settings, sessions, slack, app=bare_app(settings)) as bare:

                async def ack(number: int) -> float:
                    event = event_for(slack, number, cards)
                    started = time.perf_counter()
                    response = await bare.sender.send_event(event)
                    if response.status != 200:
                        raise SystemExit(f"bare app answered HTTP {response.status}")
                    return time.perf_counter() - started

                results[BARE] = summary(BARE, *await hammer(ack, total, concurrency))

            app = create_app(settings, sessions)
            async with running_app(settings, sessions, slack, app=app) as real:
                index = MirrorIndex(slack)

                async def mirrored(number: int) -> float:
                    event = event_for(slack, number + total, cards)
                    marker = event["text"].rsplit(" ", 1)[-1]
                    started = time.perf_counter()
                    response = await real.sender.send_event(event)
                    if response.status != 200:
                        raise SystemExit(f"tenderbot answered HTTP {response.status}")
                    await slack.wait_for(lambda: index.has(marker), seconds=60)
                    return time.perf_counter() - started

                results[REAL] = summary(REAL, *await hammer(mirrored, total, concurrency))

            bare_result, real_result = results[BARE], results[REAL]
            print(
                f"ratio tenderbot/bare: p50 ×{real_result['p50'] / bare_result['p50']:.1f}, "
                f"p99 ×{real_result['p99'] / bare_result['p99']:.1f}, "
                f"throughput {real_result['rate'] / bare_result['rate'] * 100:.0f} %"
            )
            where = "PostgreSQL" if schema else "SQLite"
            row = {
                "path": f"thread mirror, {concurrency} in flight ({where})",
                "ours": f"{real_result['rate']:.0f} msg/s, p99 {real_result['p99']:.0f} ms",
                "baseline": f"{bare_result['rate']:.0f} msg/s (bare ack)",
                "ratio": f"{real_result['rate'] / bare_result['rate']:.0%}",
                "goal": "≥ 150 msg/s, p99 < 250 ms",
                "met": real_result["rate"] >= 150 and real_result["p99"] < 250,
            }
            print("RESULT " + json.dumps([row], ensure_ascii=False))
    finally:
        await engine.dispose()


async def with_schema(url: str, schema: str, create: bool) -> None:
    engine = make_engine(url)
    async with engine.begin() as connection:
        statement = f'CREATE SCHEMA "{schema}"' if create else f'DROP SCHEMA "{schema}" CASCADE'
        await connection.execute(text(statement))
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400, help="messages per app (bounded)")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    if args.messages < 1 or args.concurrency < 1:
        parser.error("--messages and --concurrency must be at least 1")
    print(f"{args.messages} messages per app, concurrency {args.concurrency}")
    if args.database_url and is_postgres(args.database_url):
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        asyncio.run(with_schema(args.database_url, schema, create=True))
        try:
            upgrade(args.database_url, search_path=schema)
            print("database: PostgreSQL")
            asyncio.run(run(args.database_url, schema, args.messages, args.concurrency))
        finally:
            asyncio.run(with_schema(args.database_url, schema, create=False))
        return
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite+aiosqlite:///{directory}/bench-mirror.db"
        upgrade(url)
        print("database: SQLite")
        asyncio.run(run(url, None, args.messages, args.concurrency))


if __name__ == "__main__":
    main()
