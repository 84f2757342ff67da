"""E-mails per second through the whole outbox vs. bare aiosmtplib: `python bench/mail.py`.

Both sides send the same N rendered offer e-mails (rule N1) to the same local aiosmtpd
server, which runs in its own process like a real relay and discards what it gets, over
one connection each:

- raw: the messages built beforehand, sent with aiosmtplib's send_message;
- outbox: the app's events enqueue them (one transaction per event) and the queue worker
  claims, renders, sends and records each outcome before the next e-mail is final. The
  headline runs the worker as `tenderbot serve` does, in the app's process: woken by the
  events' commits (``store.wake``), draining what is due, while the same event loop
  serves the events, ten at a time as a busy app would. With one event at a time the
  events' own commits (an fsync each on PostgreSQL) bound the rate rather than the
  worker; that variant is printed too, as are the worker in a process of its own and
  the worker alone on a filled queue.

Prints the rates and each one's ratio to raw. SQLite (a temp file) by
default; with TENDERBOT_DATABASE_URL=postgresql+asyncpg://… it uses its own schema there.

    .venv/bin/python bench/mail.py [--messages N] [--batch N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from email.message import Message
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiosmtplib  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker  # noqa: E402

from notifications import (  # noqa: E402
    KeptSenders,
    SmtpConfig,
    SmtpNotifier,
    drain_outbox,
    render,
)
from notifications.email_message import build_email  # noqa: E402
from store.db import is_postgres, make_engine, make_sessionmaker, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.outbox import enqueue, new_message_id  # noqa: E402
from store.types import utcnow  # noqa: E402
from store.wake import QUEUE, run_when_woken  # noqa: E402

MAIL_FROM = "tenderbot@bench.example"
CONTEXT = {
    "reference": "AS-2026-0001",
    "product": "haftpflicht",
    "product_label": "Betriebshaftpflicht",
    "insurer": "Allianz",
    "premium": "1234.50",
    "valid_until": "2026-12-31",
    "customer_name": "Bäckerei Korn GmbH",
    "broker_name": "Anna Adler",
}


async def enqueue_offer_mail(session: AsyncSession, number: int) -> None:
    """The N1 e-mail of offer ``number``, as an offer event queues it."""
    await enqueue(
        session,
        channel="email",
        recipient=f"makler{number}@bench.example",
        template="offer_available",
        context=context_for(number),
    )


def context_for(number: int) -> dict[str, str]:
    """Every e-mail its own offer, as in production: nothing can be rendered once for all."""
    return {
        **CONTEXT,
        "reference": f"AS-2026-{number % 10_000:04d}",
        "premium": f"{1000 + number}.50",
        "broker_name": f"Makler {number}",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_relay(port: int) -> subprocess.Popen[bytes]:
    relay = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return relay
        except OSError:
            time.sleep(0.05)
    relay.kill()
    raise SystemExit("the local aiosmtpd relay did not start")


@dataclass(frozen=True)
class Database:
    url: str
    schema: str | None
    sessions: async_sessionmaker[AsyncSession]


@asynccontextmanager
async def database(url: str | None) -> AsyncIterator[Database]:
    """A freshly migrated database: a temp SQLite file, or an own PostgreSQL schema."""
    if url and is_postgres(url):
        schema = f"bench_mail_{uuid.uuid4().hex[:8]}"
        admin = make_engine(url)
        async with admin.begin() as connection:
            await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        await asyncio.to_thread(upgrade, url, search_path=schema)
        engine = make_engine(url, search_path=schema)
        try:
            yield Database(url, schema, make_sessionmaker(engine))
        finally:
            await engine.dispose()
            async with admin.begin() as connection:
                await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()
        return
    with tempfile.TemporaryDirectory() as folder:
        sqlite_url = f"sqlite+aiosqlite:///{folder}/bench.db"
        await asyncio.to_thread(upgrade, sqlite_url)
        engine = make_engine(sqlite_url)
        try:
            yield Database(sqlite_url, None, make_sessionmaker(engine))
        finally:
            await engine.dispose()


async def raw_send(port: int, count: int) -> float:
    messages: list[Message] = [
        build_email(
            render("offer_available", context_for(number)),
            sender=MAIL_FROM,
            recipient=f"makler{number}@bench.example",
            message_id=new_message_id(),
            date=utcnow(),
        )
        for number in range(count)
    ]
    started = time.perf_counter()
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, start_tls=False) as client:
        for message in messages:
            await client.send_message(message)
    return time.perf_counter() - started


async def outbox_send(
    sessions: async_sessionmaker[AsyncSession],
    port: int,
    count: int,
    batch: int,
    *,
    rows_per_transaction: int,
) -> tuple[float, float]:
    """Enqueue ``count`` rows, then flush until all are delivered; returns both durations."""
    await empty_outbox(sessions)
    config = SmtpConfig(host="127.0.0.1", port=port, starttls_required=False, mail_from=MAIL_FROM)
    started = time.perf_counter()
    for first in range(0, count, rows_per_transaction):
        async with transaction(sessions) as session:
            for number in range(first, min(first + rows_per_transaction, count)):
                await enqueue_offer_mail(session, number)
    enqueued = time.perf_counter()
    result = await drain_outbox(sessions, [SmtpNotifier(config)], batch=batch)
    finished = time.perf_counter()
    if result.sent != count:
        raise SystemExit(f"outbox sent {result.sent} of {count}: {result.errors[:3]}")
    return enqueued - started, finished - enqueued


# Requests an app serves at once in the headline (as in the other saturated benches).
IN_FLIGHT = 10


async def produce(
    sessions: async_sessionmaker[AsyncSession], count: int, in_flight: int = IN_FLIGHT
) -> None:
    """The services' side: one event, one transaction, one outbox row; ``in_flight``
    requests at a time."""
    numbers = iter(range(count))

    async def serve_requests() -> None:
        for number in numbers:
            async with transaction(sessions) as session:
                await enqueue_offer_mail(session, number)

    await asyncio.gather(*(serve_requests() for _request in range(in_flight)))


async def deliver_all(
    sessions: async_sessionmaker[AsyncSession],
    port: int,
    count: int,
    batch: int,
    *,
    interval: float = 10.0,
) -> None:
    """The worker's side, as `tenderbot serve` runs it (bot.queue_worker.queue_steps):
    drain what is due whenever a commit wakes it, over one SMTP connection kept from
    drain to drain, until ``count`` e-mails are delivered."""
    config = SmtpConfig(host="127.0.0.1", port=port, starttls_required=False, mail_from=MAIL_FROM)
    senders = KeptSenders([SmtpNotifier(config)])
    sent = 0
    done = asyncio.Event()

    async def drain() -> None:
        nonlocal sent
        result = await senders.drain(sessions, batch=batch)
        sent += result.sent
        if result.errors:
            raise SystemExit(f"the worker failed to send: {result.errors[:3]}")
        if sent >= count:
            done.set()

    worker = asyncio.create_task(run_when_woken(sessions, QUEUE, drain, interval=interval))
    finished = asyncio.create_task(done.wait())
    try:
        await asyncio.wait({worker, finished}, return_when=asyncio.FIRST_COMPLETED)
        if not done.is_set():
            await worker  # raises what stopped it
    finally:
        for task in (worker, finished):
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        await senders.close()


async def empty_outbox(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with transaction(sessions) as session:
        await session.execute(text("DELETE FROM queue"))


async def pipelined(
    sessions: async_sessionmaker[AsyncSession],
    port: int,
    count: int,
    batch: int,
    in_flight: int = IN_FLIGHT,
) -> float:
    """Events and the worker at the same time in one process (`tenderbot serve` runs the
    scheduler beside the app); until all are delivered."""
    await empty_outbox(sessions)
    started = time.perf_counter()
    await asyncio.gather(
        produce(sessions, count, in_flight), deliver_all(sessions, port, count, batch)
    )
    return time.perf_counter() - started


def producer_process(url: str, schema: str | None, count: int, ready: Any, go: Any) -> None:
    async def run() -> None:
        engine = make_engine(url, search_path=schema)
        sessions = make_sessionmaker(engine)
        async with transaction(sessions) as session:
            await session.execute(text("SELECT 1"))  # connect before the clock starts
        ready.set()
        await asyncio.to_thread(go.wait)
        await produce(sessions, count)
        await engine.dispose()

    asyncio.run(run())


async def split(db: Database, port: int, count: int, batch: int) -> float:
    """Events in one process (the app) and the worker in another (`tenderbot scheduler`
    run on its own); until all are delivered. Process start-up is not timed."""
    await empty_outbox(db.sessions)
    context = multiprocessing.get_context("spawn")
    ready, go = context.Event(), context.Event()
    producer = context.Process(target=producer_process, args=(db.url, db.schema, count, ready, go))
    producer.start()
    try:
        if not await asyncio.to_thread(ready.wait, 60):
            raise SystemExit("the producer process did not start")
        started = time.perf_counter()
        go.set()
        # On SQLite no commit of another process wakes the worker; it only polls, so poll
        # often enough to measure the worker rather than the interval.
        await deliver_all(db.sessions, port, count, batch, interval=0.05)
        elapsed = time.perf_counter() - started
    finally:
        await asyncio.to_thread(producer.join, 60)
    if producer.exitcode != 0:
        raise SystemExit(f"the producer process failed with exit code {producer.exitcode}")
    return elapsed


def rate(count: int, durations: list[float]) -> float:
    return count / statistics.median(durations)


async def main(arguments: argparse.Namespace) -> None:
    port = free_port()
    relay = start_relay(port)
    url = os.environ.get("TENDERBOT_DATABASE_URL")
    count, batch = arguments.messages, arguments.batch
    raws: list[float] = []
    concurrent: list[float] = []
    apart: list[float] = []
    one_by_one: list[float] = []
    # rows per transaction → (enqueue durations, flush durations)
    sequential: dict[int, tuple[list[float], list[float]]] = {1: ([], []), 100: ([], [])}
    try:
        async with database(url) as db:
            sessions = db.sessions
            # Warm up imports, the relay, the templates and the connection pool.
            await raw_send(port, 50)
            await pipelined(sessions, port, 50, batch)
            # Interleaved rounds, so a noisy neighbour hits every variant alike.
            for _round in range(arguments.rounds):
                raws.append(await raw_send(port, count))
                concurrent.append(await pipelined(sessions, port, count, batch))
                apart.append(await split(db, port, count, batch))
                one_by_one.append(await pipelined(sessions, port, count, batch, in_flight=1))
                for per_transaction, (enqueues, flushes) in sequential.items():
                    enqueue_time, flush_time = await outbox_send(
                        sessions, port, count, batch, rows_per_transaction=per_transaction
                    )
                    enqueues.append(enqueue_time)
                    flushes.append(flush_time)
    finally:
        relay.terminate()
        relay.wait()
    raw = rate(count, raws)

    def line(label: str, value: float, unit: str = "mails/s") -> None:
        print(f"  {label:<58} {value:7.0f} {unit}  {value / raw:5.0%} of raw")

    backend = "PostgreSQL" if url and is_postgres(url) else "SQLite"
    print(f"{count} e-mails, batch {batch}, {backend}, median of {arguments.rounds} rounds")
    print(f"  {'raw aiosmtplib, messages prebuilt, one connection':<58} {raw:7.0f} mails/s")
    line(
        f"outbox, worker in the app's process, {IN_FLIGHT} events at a time → delivered",
        rate(count, concurrent),
    )
    line("  the same, events and worker in two processes", rate(count, apart))
    line("  the same, one event at a time (bound by the events' commits)", rate(count, one_by_one))
    line("outbox flush only (claim → render → send → record)", rate(count, sequential[1][1]))
    for per_transaction, label in (
        (1, "outbox, enqueue then flush, one commit per event"),
        (100, "outbox, enqueue then flush, 100 rows per commit"),
    ):
        enqueues, flushes = sequential[per_transaction]
        whole = [e + f for e, f in zip(enqueues, flushes, strict=True)]
        line(label, rate(count, whole))
    print(
        f"  {'enqueue alone, one commit per event':<58} {rate(count, sequential[1][0]):7.0f} rows/s"
    )
    together = rate(count, concurrent)
    row = {
        "path": f"outbox e-mail, worker in the app's process ({backend})",
        "ours": f"{together:.0f} mails/s",
        "baseline": f"{raw:.0f} mails/s (raw aiosmtplib)",
        "ratio": f"{together / raw:.0%}",
        "goal": "≥ 85 %",
        "met": together / raw >= 0.85,
    }
    print("RESULT " + json.dumps([row], ensure_ascii=False))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
