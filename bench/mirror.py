"""Throughput and latency of the thread mirror at a fixed number in flight, next to a bare app.

A message written in one tender thread is timed from the signed event leaving the client
until the local Slack records the mirrored post in the other thread (signature check, Bolt
dispatch, event claim, store write, commit, users.info, chat.postMessage through the queue,
delivery bookkeeping). tenderbot runs as `tenderbot serve` does (``bot.http.serve``: the app,
its queue worker woken on commit, the schedule) in its own process; the baseline in the same
run is a bare Bolt ``AsyncApp`` that only acks the same events, served the same way in its
own process. This process holds only the client and the local Slack, so neither app shares
its event loop with the load it is measured by. Messages alternate between backoffice Bernd
(backoffice thread → Anna's DM) and broker Anna (the other way), over ``--tenders`` tenders
(default 1: every message goes through the same two threads, whose posts keep their order).

    .venv/bin/python bench/mirror.py [--messages 400] [--concurrency 10] [--tenders 1]
        [--profile DIR] [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

``--profile DIR`` writes a cProfile of the app process (``DIR/mirror.prof``) and prints the
SQL statements the app sent per mirrored message. With a PostgreSQL URL the run uses a fresh
schema that it drops afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import signal
import statistics
import sys
import time
from collections import Counter
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

# Run as a script: the repository root, not bench/ (bench/pricing.py would shadow pricing/).
sys.path[0] = str(Path(__file__).resolve().parents[1])

from slack_bolt.async_app import AsyncApp  # noqa: E402

from bench.harness import (  # noqa: E402
    ANNA,
    ANNA_DM,
    BERND,
    CHANNEL,
    NAMES,
    Cards,
    Database,
    fresh_database,
    hammer,
    percentiles,
    seed_tenders,
)
from bot.localslack import LocalSlack, SignedSender  # noqa: E402
from bot.localslack.running import LOCAL_BOT_TOKEN, LOCAL_SIGNING_SECRET  # noqa: E402
from bot.settings import Settings, load_settings  # noqa: E402
from bot.slack_client import build_client  # noqa: E402
from store.db import make_engine, make_sessionmaker  # noqa: E402

BARE = "bare AsyncApp (ack only)"
REAL = "tenderbot thread mirror (end to end)"
CPU_MS = "cpu_ms"
GOAL_RATE = 150.0
GOAL_P99_MS = 250.0


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


def event_for(slack: LocalSlack, number: int, cards: list[Cards]) -> dict[str, Any]:
    tender = cards[(number // 2) % len(cards)]
    user, channel, thread_ts = (
        (BERND, CHANNEL, tender.backoffice_ts)
        if number % 2 == 0
        else (ANNA, ANNA_DM, tender.broker_ts)
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


def summary(name: str, elapsed: float, latencies: list[float]) -> dict[str, float]:
    p50, p99 = percentiles(latencies)
    mean = statistics.fmean(latencies) * 1000
    rate = len(latencies) / elapsed
    # The mean too: with a fixed number in flight it is concurrency / rate whatever the
    # spread, so it tells a faster path from one that only moved waiting into the tail.
    print(
        f"{name:<38} {rate:8.1f} msg/s   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms"
        f"   mean {mean:7.1f} ms",
        flush=True,
    )
    return {"rate": rate, "p50": p50, "p99": p99, "mean": mean}


# -- the app processes ------------------------------------------------------------------


def app_settings(url: str, schema: str | None, slack_url: str) -> Settings:
    return load_settings(
        database_url=url,
        database_schema=schema,
        slack_api_url=slack_url,
        slack_bot_token=LOCAL_BOT_TOKEN,
        slack_signing_secret=LOCAL_SIGNING_SECRET,
        backoffice_users=frozenset({BERND}),
        backoffice_channel=CHANNEL,
    )


def bare_app(settings: Settings) -> AsyncApp:
    app = AsyncApp(signing_secret=LOCAL_SIGNING_SECRET, client=build_client(settings))

    @app.event("message")
    async def ack_only() -> None:
        return None

    return app


async def serve_bare(settings: Settings, ports: Queue[int]) -> None:
    from bot.http import build_web_app, freeze_startup_heap, start_web_app, until_stopped

    engine = make_engine(settings.database_url, search_path=settings.database_schema)
    sessions = make_sessionmaker(engine)
    runner, port = await start_web_app(
        build_web_app(settings, sessions, bare_app(settings)), "127.0.0.1", 0
    )
    freeze_startup_heap()  # as `tenderbot serve` does, for both apps
    ports.put(port)
    STARTED.append(cpu_ms())
    await until_stopped()
    await runner.cleanup()
    await engine.dispose()


async def serve_real(settings: Settings, ports: Queue[int]) -> None:
    from bot.http import serve

    ready: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    def started(done: asyncio.Future[int]) -> None:
        ports.put(done.result())
        STARTED.append(cpu_ms())

    ready.add_done_callback(started)
    await serve(settings, "127.0.0.1", 0, ready=ready)


# The app process's CPU time when it was ready to serve.
STARTED: list[int] = []


def cpu_ms() -> int:
    used = os.times()
    return int((used.user + used.system) * 1000)


def count_statements() -> Counter[str]:
    """Every SQL statement the app sends, by its first words (for --profile)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    counts: Counter[str] = Counter()

    @event.listens_for(Engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        words = statement.split()
        head = " ".join(words[:3]) if words and words[0] in ("UPDATE", "INSERT") else words[0]
        counts[head if words else "?"] += 1

    @event.listens_for(Engine, "begin")
    def _begin(_conn: Any) -> None:
        counts["BEGIN"] += 1

    @event.listens_for(Engine, "commit")
    def _commit(_conn: Any) -> None:
        counts["COMMIT"] += 1

    return counts


def app_process(
    kind: str,
    url: str,
    schema: str | None,
    slack_url: str,
    ports: Queue[int],
    profile: str | None,
    statements: Queue[dict[str, int]],
) -> None:
    settings = app_settings(url, schema, slack_url)
    counts = count_statements()
    serving = serve_bare(settings, ports) if kind == BARE else serve_real(settings, ports)
    profiler = None
    if profile is not None:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    try:
        asyncio.run(serving)
    finally:
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(os.path.join(profile, "mirror.prof"))
        # On a shared machine the process gets only part of a core: its CPU time per
        # message (after start-up) says more than the wall-clock time.
        statements.put({**counts, CPU_MS: cpu_ms() - (STARTED[0] if STARTED else 0)})


class AppProcess:
    """One app in its own process; stopped with SIGTERM like `tenderbot serve`."""

    def __init__(
        self, kind: str, url: str, schema: str | None, slack_url: str, profile: str | None
    ):
        context = multiprocessing.get_context("spawn")
        self.ports: Queue[int] = context.Queue()
        self.statements: Queue[dict[str, int]] = context.Queue()
        self.process = context.Process(
            target=app_process,
            args=(kind, url, schema, slack_url, self.ports, profile, self.statements),
        )
        self.profile = profile

    async def start(self) -> str:
        self.process.start()
        port = await asyncio.to_thread(self.ports.get, True, 120)
        return f"http://127.0.0.1:{port}/slack/events"

    async def stop(self) -> dict[str, int]:
        assert self.process.pid is not None
        os.kill(self.process.pid, signal.SIGTERM)
        counts: dict[str, int] = await asyncio.to_thread(self.statements.get, True, 120)
        await asyncio.to_thread(self.process.join, 60)
        return counts


# -- the run ----------------------------------------------------------------------------


async def measure(
    slack: LocalSlack,
    app: AppProcess,
    cards: list[Cards],
    total: int,
    concurrency: int,
    offset: int,
    *,
    mirrored: bool,
) -> tuple[dict[str, float], dict[str, int]]:
    events_url = await app.start()
    index = MirrorIndex(slack)
    name = REAL if mirrored else BARE
    try:
        async with SignedSender(events_url, LOCAL_SIGNING_SECRET, slack) as sender:

            async def one(number: int) -> float:
                event = event_for(slack, number + offset, cards)
                marker = event["text"].rsplit(" ", 1)[-1]
                started = time.perf_counter()
                response = await sender.send_event(event)
                if response.status != 200:
                    raise SystemExit(f"{name} answered HTTP {response.status}")
                if mirrored:
                    await slack.wait_for(lambda: index.has(marker), seconds=60)
                return time.perf_counter() - started

            before = cpu_ms()
            result = summary(name, *await hammer(one, total, concurrency))
            # This process's share: the client and the local Slack that records the posts.
            result["client_cpu"] = (cpu_ms() - before) / total
    finally:
        counts = await app.stop()
    return result, counts


async def run(
    database: Database, total: int, concurrency: int, tenders: int, profile: str | None
) -> None:
    url, schema = database.url, database.schema
    async with LocalSlack() as slack:
        slack.add_user(ANNA, NAMES[ANNA])
        slack.add_user(BERND, NAMES[BERND])
        slack.add_channel(CHANNEL, "backoffice")
        cards = await seed_tenders(database, slack, tenders, bernd_asks=True)
        bare, bare_counts = await measure(
            slack,
            AppProcess(BARE, url, schema, slack.url, None),
            cards,
            total,
            concurrency,
            0,
            mirrored=False,
        )
        real, counts = await measure(
            slack,
            AppProcess(REAL, url, schema, slack.url, profile),
            cards,
            total,
            concurrency,
            total,
            mirrored=True,
        )
    print(
        f"ratio tenderbot/bare: p50 ×{real['p50'] / bare['p50']:.1f}, "
        f"p99 ×{real['p99'] / bare['p99']:.1f}, "
        f"throughput {real['rate'] / bare['rate'] * 100:.0f} %"
    )
    real_cpu, bare_cpu = counts.pop(CPU_MS) / total, bare_counts.pop(CPU_MS) / total
    print(
        f"CPU of the app process per message: tenderbot {real_cpu:.1f} ms, "
        f"bare {bare_cpu:.1f} ms (×{real_cpu / bare_cpu:.1f})"
    )
    print(
        f"CPU of this process (client and local Slack) per message: {real['client_cpu']:.1f} ms "
        f"with tenderbot, {bare['client_cpu']:.1f} ms with the bare app"
    )
    print(f"SQL statements per mirrored message: {sum(counts.values()) / total:.1f}")
    if profile:
        for head, count in sorted(counts.items(), key=lambda item: -item[1]):
            print(f"  {count / total:6.2f}  {head}")
        print(f"profile: {profile}/mirror.prof")
    where = database.name
    threads = "one tender" if tenders == 1 else f"{tenders} tenders"
    row = {
        "path": f"thread mirror, {concurrency} in flight, {threads} ({where})",
        "ours": f"{real['rate']:.0f} msg/s, p99 {real['p99']:.0f} ms",
        "baseline": f"{bare['rate']:.0f} msg/s (bare ack)",
        "ratio": f"{real['rate'] / bare['rate']:.0%}",
        "goal": f"≥ {GOAL_RATE:.0f} msg/s, p99 < {GOAL_P99_MS:.0f} ms",
        "met": real["rate"] >= GOAL_RATE and real["p99"] < GOAL_P99_MS,
    }
    print("RESULT " + json.dumps([row], ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=400, help="messages per app (bounded)")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--tenders", type=int, default=1, help="tenders the messages go to")
    parser.add_argument("--profile", default=None, help="directory for the app's cProfile")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    if not (1 <= args.messages <= 10000 and 1 <= args.concurrency <= 100):
        parser.error("--messages 1…10000, --concurrency 1…100")
    if not 1 <= args.tenders <= 1000:
        parser.error("--tenders 1…1000")
    print(
        f"{args.messages} messages per app, concurrency {args.concurrency}, "
        f"{args.tenders} tender(s)"
    )
    asyncio.run(measured(args))


async def measured(args: argparse.Namespace) -> None:
    async with fresh_database(args.database_url, "bench_mirror") as database:
        print(f"database: {database.name}")
        await run(database, args.messages, args.concurrency, args.tenders, args.profile)


if __name__ == "__main__":
    main()
