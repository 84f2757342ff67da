"""Konzeptrabatt charges per second through ``POST /platform/events``, next to a bare handler.

Each server runs in its own process, served the same way (aiohttp, ``start_web_app``). The
bare one is an aiohttp handler that only verifies the signature and answers 200. tenderbot is
``bot.http.build_web_app`` with the platform secret: signature, validation, the event id
claimed, the charge booked (P3), the broker's notices queued, the answer stored, one commit.
This process sends the same signed ``policy.issued`` events (each a new id and policy, spread
over 50 brokers) with the same concurrency to both, after a warm-up. Goal: at least 40 % of
the bare rate.

    .venv/bin/python bench/platform_charges.py [--events 2000] [--concurrency 10]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

With a PostgreSQL URL the run uses a fresh schema that it drops afterwards.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The repository root first: bench/pricing.py would shadow our pricing/. This file is not
# called bench/platform.py because every script in bench/ would then import it in place of
# the standard library's platform module (uuid and asyncio do).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import asyncio
import json
import multiprocessing
import tempfile
import time
import uuid
from decimal import Decimal
from multiprocessing.queues import Queue

import aiohttp
from aiohttp import web
from sqlalchemy import text

from bot.app import create_app
from bot.http import build_web_app, freeze_startup_heap, start_web_app
from bot.localslack.running import LOCAL_BOT_TOKEN, LOCAL_SIGNING_SECRET
from bot.settings import load_settings
from handlers.platform_api import (
    PLATFORM_PATH,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
    signature_problem,
)
from store.bookings import broker_for_number, change_credit_limit
from store.brokers import BrokerData, add_broker
from store.db import is_postgres, make_engine, make_sessionmaker, transaction
from store.migrate import upgrade

SECRET = "bench-platform-secret"
BARE = "bare aiohttp (signature only)"
REAL = "tenderbot policy.issued"
WARM_UP = 100
GOAL_SHARE = 0.40
# Charges go round-robin to this many brokers, as on a platform with many brokers at once;
# charges to one account wait for each other by design (P3, see the 50-charge test).
BROKERS = 50


def bare_web_app() -> web.Application:
    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        problem = signature_problem(
            SECRET,
            request.headers.get(TIMESTAMP_HEADER),
            request.headers.get(SIGNATURE_HEADER),
            body,
            time.time(),
        )
        if problem is not None:
            return web.json_response({"code": "invalid_signature"}, status=401)
        return web.json_response({"status": "booked"})

    web_app = web.Application()
    web_app.router.add_post(PLATFORM_PATH, handle)
    return web_app


async def serve(kind: str, database_url: str, schema: str | None, ports: Queue[int]) -> None:
    if kind == BARE:
        _runner, port = await start_web_app(bare_web_app(), "127.0.0.1", 0)
    else:
        settings = load_settings(
            database_url=database_url,
            slack_api_url="http://127.0.0.1:9/api/",
            slack_bot_token=LOCAL_BOT_TOKEN,
            slack_signing_secret=LOCAL_SIGNING_SECRET,
            platform_secret=SECRET,
        )
        engine = make_engine(database_url, search_path=schema)
        sessions = make_sessionmaker(engine)
        app = create_app(settings, sessions)
        _runner, port = await start_web_app(build_web_app(settings, sessions, app), "127.0.0.1", 0)
    freeze_startup_heap()  # as `tenderbot serve` does, for both
    ports.put(port)
    await asyncio.Event().wait()


def server_process(kind: str, database_url: str, schema: str | None, ports: Queue[int]) -> None:
    asyncio.run(serve(kind, database_url, schema, ports))


def event(number: int, run: str) -> bytes:
    return json.dumps(
        {
            "id": f"{run}-{number}",
            "type": "policy.issued",
            "occurred_at": "2026-12-01T10:00:00+01:00",
            "data": {
                "broker_number": str(4700 + number % BROKERS),
                "policy_number": f"P-{run}-{number}",
                "konzeptrabatt": "1,00",
            },
        }
    ).encode()


async def hammer(url: str, run: str, total: int, concurrency: int) -> float:
    remaining = iter(range(total))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as http:

        async def worker() -> None:
            for number in remaining:
                body = event(number, run)
                stamp = str(int(time.time()))
                headers = {
                    "Content-Type": "application/json",
                    TIMESTAMP_HEADER: stamp,
                    SIGNATURE_HEADER: sign(SECRET, stamp, body),
                }
                async with http.post(url, data=body, headers=headers) as response:
                    answer = await response.json()
                    if response.status != 200 or answer.get("status") != "booked":
                        raise SystemExit(f"unexpected answer {response.status}: {answer}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - started


async def seed(database_url: str, schema: str | None) -> None:
    """The brokers, each with a credit that covers every charge of the run."""
    engine = make_engine(database_url, search_path=schema)
    async with transaction(make_sessionmaker(engine)) as session:
        for index in range(BROKERS):
            number = str(4700 + index)
            await add_broker(
                session,
                BrokerData(
                    slack_user_id=f"U0B{number}",
                    number=number,
                    name=f"Maklerin {number}",
                    email=f"makler{number}@example.org",
                ),
            )
            broker = await broker_for_number(session, number)
            await change_credit_limit(
                session, broker, Decimal("1000000"), audit_id=f"bench-{number}", source="bench"
            )
    await engine.dispose()


async def with_schema(url: str, schema: str, statement: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as connection:
        await connection.execute(text(statement.format(schema=schema)))
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    schema: str | None = None
    with tempfile.TemporaryDirectory() as directory:
        url = args.database_url or f"sqlite+aiosqlite:///{directory}/bench.db"
        if is_postgres(url):
            schema = f"bench_{uuid.uuid4().hex[:8]}"
            asyncio.run(with_schema(url, schema, 'CREATE SCHEMA "{schema}"'))
        try:
            upgrade(url, search_path=schema)
            asyncio.run(seed(url, schema))
            rates: dict[str, float] = {}
            context = multiprocessing.get_context("spawn")
            for kind in (BARE, REAL):
                ports: Queue[int] = context.Queue()
                process = context.Process(
                    target=server_process, args=(kind, url, schema, ports), daemon=True
                )
                process.start()
                try:
                    target = f"http://127.0.0.1:{ports.get(timeout=60)}{PLATFORM_PATH}"
                    asyncio.run(hammer(target, f"warm-{kind[:4]}", WARM_UP, args.concurrency))
                    elapsed = asyncio.run(
                        hammer(target, f"run-{kind[:4]}", args.events, args.concurrency)
                    )
                finally:
                    process.terminate()
                    process.join()
                rates[kind] = args.events / elapsed
                print(f"{kind:<34} {rates[kind]:8.1f} charges/s")
            ratio = rates[REAL] / rates[BARE]
            backend = "PostgreSQL" if schema else "SQLite"
            print(
                f"tenderbot / bare: {ratio:.0%} on {backend} "
                f"({args.events} events, {args.concurrency} at once; goal ≥ 40 %)"
            )
            row = {
                "path": f"`POST /platform/events` policy.issued ({args.concurrency} in flight, "
                f"{backend})",
                "ours": f"{rates[REAL]:.0f} charges/s",
                "baseline": f"{rates[BARE]:.0f} req/s (bare aiohttp, signature only)",
                "ratio": f"{ratio:.0%}",
                "goal": "≥ 40 %",
                "met": ratio >= GOAL_SHARE,
            }
            print("RESULT " + json.dumps([row], ensure_ascii=False))
        finally:
            if schema is not None:
                asyncio.run(with_schema(url, schema, 'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
