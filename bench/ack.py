"""How fast the served app acknowledges a signed `/ausschreibung liste`, next to a bare app.

Each app runs in its own process, served the same way (bot.http.build_web_app on aiohttp);
this process holds the client and the local Slack and sends the same signed requests with
the same concurrency to both, after a warm-up of 100. The bare Bolt AsyncApp only acks.
tenderbot answers in the ack itself with Anna's ten tenders, read from the database. Saturated
(``--concurrency`` requests in flight) and at a fixed offered rate (``--rate``, open loop).

The client does the same for both apps: it signs, posts and reads the answer, nothing more
(the local Slack's recording and Block Kit checks of an answer would cost this process more
for tenderbot's answers than for the bare app's empty ones). One answer before and the last
one of the run are checked: they must list the ten tenders. Goal: p99 < 50 ms and at least
50 % of the bare throughput.

    .venv/bin/python bench/ack.py [--requests 1000] [--concurrency 10] [--rate 50]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

With a PostgreSQL URL the run uses a fresh schema that it drops afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import re
import statistics
import sys
import time
from multiprocessing.queues import Queue
from pathlib import Path
from urllib.parse import urlencode

# Run as a script: the repository root, not bench/ (bench/pricing.py would shadow pricing/).
sys.path[0] = str(Path(__file__).resolve().parents[1])

import aiohttp  # noqa: E402
from slack_bolt.async_app import AsyncAck, AsyncApp  # noqa: E402

from bench.harness import fresh_database  # noqa: E402
from bot.app import create_app  # noqa: E402
from bot.http import build_web_app, freeze_startup_heap, start_web_app  # noqa: E402
from bot.localslack import LocalSlack, SignedSender  # noqa: E402
from bot.localslack.running import LOCAL_BOT_TOKEN, LOCAL_SIGNING_SECRET  # noqa: E402
from bot.settings import Settings, load_settings  # noqa: E402
from bot.slack_client import build_client  # noqa: E402
from store.brokers import BrokerData, add_broker  # noqa: E402
from store.db import is_postgres, make_engine, make_sessionmaker, transaction  # noqa: E402

ANNA = "U0ANNA"
GOAL_SHARE = 0.5
GOAL_P99_MS = 50.0
BARE = "bare AsyncApp (ack only)"
REAL = "tenderbot /ausschreibung liste"


def bare_app(settings: Settings) -> AsyncApp:
    app = AsyncApp(signing_secret=LOCAL_SIGNING_SECRET, client=build_client(settings))

    @app.command("/ausschreibung")
    async def ack_only(ack: AsyncAck) -> None:
        await ack()

    return app


async def serve_app(
    kind: str, database_url: str, schema: str | None, slack_url: str, ports: Queue[int]
) -> None:
    settings = load_settings(
        database_url=database_url,
        slack_api_url=slack_url,
        slack_bot_token=LOCAL_BOT_TOKEN,
        slack_signing_secret=LOCAL_SIGNING_SECRET,
    )
    engine = make_engine(database_url, search_path=schema)
    sessions = make_sessionmaker(engine)
    app = bare_app(settings) if kind == BARE else create_app(settings, sessions)
    _runner, port = await start_web_app(build_web_app(settings, sessions, app), "127.0.0.1", 0)
    freeze_startup_heap()  # as `tenderbot serve` does, for both apps
    ports.put(port)
    await asyncio.Event().wait()


def app_process(
    kind: str, database_url: str, schema: str | None, slack_url: str, ports: Queue[int]
) -> None:
    asyncio.run(serve_app(kind, database_url, schema, slack_url, ports))


class Client:
    """Signed `/ausschreibung liste` posts over one kept-alive session, nothing else."""

    def __init__(self, sender: SignedSender, http: aiohttp.ClientSession) -> None:
        self.sender = sender
        self.http = http
        self.last = ""

    async def liste(self) -> float:
        form = urlencode(self.sender.command_body(ANNA, "/ausschreibung", "liste"))
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        headers.update(self.sender.signed_headers(form))
        started = time.perf_counter()
        async with self.http.post(self.sender.events_url, data=form, headers=headers) as answer:
            body = await answer.text()
        elapsed = time.perf_counter() - started
        if answer.status != 200:
            raise SystemExit(f"unexpected HTTP {answer.status}: {body[:200]}")
        self.last = body
        return elapsed


async def hammer(client: Client, total: int, concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    remaining = iter(range(total))

    async def worker() -> None:
        for _ in remaining:
            latencies.append(await client.liste())

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies


async def paced(client: Client, total: int, rate: float) -> tuple[float, list[float]]:
    """Open loop: a request every 1/rate s whatever the answers do, as Slack users would."""
    latencies: list[float] = []

    async def one() -> None:
        latencies.append(await client.liste())

    loop = asyncio.get_running_loop()
    started = loop.time()
    tasks = []
    for number in range(total):
        await asyncio.sleep(max(0.0, started + number / rate - loop.time()))
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    return loop.time() - started, latencies


def summary(name: str, elapsed: float, latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    p50 = statistics.median(ordered) * 1000
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000
    rps = len(ordered) / elapsed
    print(f"{name:<46} {rps:8.1f} req/s   p50 {p50:6.1f} ms   p99 {p99:6.1f} ms")
    return {"rps": rps, "p50": p50, "p99": p99}


async def seed(
    database_url: str, schema: str | None, sender: SignedSender, slack: LocalSlack
) -> None:
    """Anna and ten tenders, the tenders started through the real app as she would."""
    engine = make_engine(database_url, search_path=schema)
    async with transaction(make_sessionmaker(engine)) as session:
        await add_broker(
            session,
            BrokerData(
                slack_user_id=ANNA,
                number="4711",
                name="Anna Adler",
                email="anna@makler-adler.example",
            ),
        )
    await engine.dispose()
    for number in range(10):
        await sender.send_command(
            ANNA,
            "/ausschreibung",
            f'neu sparte=haftpflicht kunde="Kunde {number}" sb=1.000 vorschaeden=keine '
            'beschreibung="Backstube mit Café"',
        )
    await slack.settle()


def check_answer(body: str) -> None:
    """The answer must be the real list, not an error: Anna's ten tenders, newest first."""
    listed = len(re.findall(r"AS-\d{4}-\d{4}", body))
    if listed < 10:
        raise SystemExit(f"the answer does not list Anna's ten tenders: {body[:300]}")


async def measure(
    kind: str,
    database_url: str,
    schema: str | None,
    slack: LocalSlack,
    total: int,
    concurrency: int,
    rate: float,
) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    ports: Queue[int] = context.Queue()
    process = context.Process(
        target=app_process, args=(kind, database_url, schema, slack.url, ports)
    )
    process.start()
    real = kind == REAL
    try:
        port = await asyncio.to_thread(ports.get, True, 60)
        events_url = f"http://127.0.0.1:{port}/slack/events"
        async with (
            SignedSender(events_url, LOCAL_SIGNING_SECRET, slack) as sender,
            aiohttp.ClientSession() as http,
        ):
            client = Client(sender, http)
            if real:
                await seed(database_url, schema, sender, slack)
                # Once through the local Slack's checks: Slack would show this answer. The
                # starts finish after their acks, so wait (bounded) until all ten are listed.
                async with asyncio.timeout(120):
                    while True:
                        checked = await sender.send_command(ANNA, "/ausschreibung", "liste")
                        if len(re.findall(r"AS-\d{4}-\d{4}", checked.text)) >= 10:
                            break
                        await asyncio.sleep(0.2)
                check_answer(checked.text)
                if slack.refusals():
                    raise SystemExit(f"the local Slack refused: {slack.refusals()[0].problems}")
            await hammer(client, min(100, total), concurrency)  # warm-up: pools, auth.test
            await slack.settle()
            elapsed, latencies = await hammer(client, total, concurrency)
            if real:
                check_answer(client.last)
            await slack.settle()
            paced_elapsed, paced_latencies = await paced(client, min(total, int(rate * 10)), rate)
            if real:
                check_answer(client.last)
        result = summary(f"{kind}, {concurrency} parallel", elapsed, latencies)
        paced_result = summary(f"{kind}, {rate:g}/s offered", paced_elapsed, paced_latencies)
        result["paced_p50"] = paced_result["p50"]
        result["paced_p99"] = paced_result["p99"]
        return result
    finally:
        process.terminate()
        process.join()


async def main(total: int, concurrency: int, rate: float, postgres_url: str | None) -> None:
    async with fresh_database(postgres_url) as database, LocalSlack() as slack:
        url, schema = database.url, database.schema
        print(f"{total} signed requests, {concurrency} at a time, {database.name}, app apart")
        bare = await measure(BARE, url, schema, slack, total, concurrency, rate)
        real = await measure(REAL, url, schema, slack, total, concurrency, rate)
    ratio = real["rps"] / bare["rps"]
    print(
        f"throughput tenderbot/bare: {ratio:.0%} (goal ≥ 50 %); p99 tenderbot "
        f"{real['p99']:.1f} ms saturated (bare {bare['p99']:.1f} ms), {real['paced_p99']:.1f} ms "
        f"at {rate:g}/s (bare {bare['paced_p99']:.1f} ms; goal < {GOAL_P99_MS:.0f} ms)"
    )
    where = "PostgreSQL" if postgres_url else "SQLite"
    row = {
        "path": f"`/ausschreibung liste`, saturated ({concurrency} in flight, {where})",
        "ours": f"{real['rps']:.0f} req/s, p99 {real['p99']:.0f} ms",
        "baseline": f"{bare['rps']:.0f} req/s, p99 {bare['p99']:.0f} ms (bare Bolt ack)",
        "ratio": f"{ratio:.0%}",
        "goal": f"≥ 50 %, p99 < {GOAL_P99_MS:.0f} ms",
        "met": ratio >= GOAL_SHARE and real["p99"] < GOAL_P99_MS,
    }
    print("RESULT " + json.dumps([row], ensure_ascii=False))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Ack latency and throughput vs. a bare app.")
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--rate", type=float, default=50, help="offered req/s, open loop")
    parser.add_argument("--database-url", help="a PostgreSQL URL; default: a temporary SQLite")
    arguments = parser.parse_args()
    url = arguments.database_url
    if url and not is_postgres(url):
        parser.error("--database-url must be postgresql+asyncpg://…")
    asyncio.run(main(arguments.requests, arguments.concurrency, arguments.rate, url))
