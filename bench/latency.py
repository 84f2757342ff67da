"""How soon people hear of it, at light load: a black box against `tenderbot serve`.

`tenderbot serve` runs as its own process, as in production, against the local Slack and an
aiosmtpd server in this process (both on 127.0.0.1). Backoffice Bernd posts offers with
`/angebot` at a fixed rate (open loop, default 5 per second), one per tender of broker Anna;
each is timed from the command's ack to the e-mail accepted by the SMTP server and to the
DM notice posted in Slack (rule N1). Then Bernd writes in the tenders' backoffice threads at
the same rate, each message timed from sending it to its mirrored post in Anna's thread (M3).

The baseline in the same run is the bare transport at the same rate: one aiosmtplib send
(connect, send, quit) to the same SMTP server, and one chat.postMessage to the same local
Slack. Goal: p99 < 1 s for e-mail and DM.

    .venv/bin/python bench/latency.py [--offers 50] [--messages 50] [--rate 5]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

With a PostgreSQL URL the run uses a fresh schema that it drops afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import AsyncIterator
from datetime import date, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

# Run as a script: the repository root, not bench/ (bench/pricing.py would shadow pricing/).
sys.path[0] = str(Path(__file__).resolve().parents[1])

import aiohttp  # noqa: E402
import aiosmtplib  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from slack_sdk.web.async_client import AsyncWebClient  # noqa: E402

from bench.harness import (  # noqa: E402
    ANNA,
    BERND,
    CHANNEL,
    NAMES,
    Cards,
    Database,
    free_port,
    fresh_database,
    paced,
    percentiles,
    seed_tenders,
)
from bot.localslack import LocalSlack, SignedSender  # noqa: E402
from bot.localslack.running import LOCAL_BOT_TOKEN, LOCAL_SIGNING_SECRET  # noqa: E402

GOAL_SECONDS = 1.0
WAIT_SECONDS = 30.0
REFERENCE = re.compile(r"AS-\d{4}-\d{4}")


class Arrivals:
    """When each reference (or marker) was first seen, stamped in any thread; awaitable."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.seen: dict[str, float] = {}
        self.waiting: dict[str, asyncio.Future[float]] = {}
        self.lock = threading.Lock()

    def arrived(self, key: str) -> None:
        stamp = time.perf_counter()
        with self.lock:
            if key in self.seen:
                return
            self.seen[key] = stamp
        self.loop.call_soon_threadsafe(self._resolve, key, stamp)

    def _resolve(self, key: str, stamp: float) -> None:
        future = self.waiting.pop(key, None)
        if future is not None and not future.done():
            future.set_result(stamp)

    async def when(self, key: str) -> float:
        with self.lock:
            if key in self.seen:
                return self.seen[key]
            future = self.waiting.setdefault(key, self.loop.create_future())
        return await asyncio.wait_for(future, WAIT_SECONDS)


class MailSink:
    """aiosmtpd handler: stamps each accepted e-mail by the tender reference in its subject."""

    def __init__(self, arrivals: Arrivals) -> None:
        self.arrivals = arrivals

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        content = envelope.original_content or envelope.content or b""
        head = content.split(b"\r\n\r\n", 1)[0]
        subject = str(BytesHeaderParser(policy=policy.default).parsebytes(head)["Subject"] or "")
        found = REFERENCE.search(subject)
        if found and "Angebot" in subject:
            self.arrivals.arrived(f"mail:{found.group(0)}")
        return "250 OK"


class SlackWatch:
    """Stamps the app's posts in the local Slack as they are recorded."""

    def __init__(self, slack: LocalSlack, arrivals: Arrivals) -> None:
        self.slack = slack
        self.arrivals = arrivals
        self.cursor = 0

    def scan(self) -> bool:
        calls = self.slack.calls()
        for call in calls[self.cursor :]:
            if call.method != "chat.postMessage":
                continue
            message = str(call.params.get("text", ""))
            if call.params.get("channel") == ANNA and "Neues Angebot zu" in message:
                found = REFERENCE.search(message)
                if found:
                    self.arrivals.arrived(f"dm:{found.group(0)}")
            elif call.params.get("username"):
                self.arrivals.arrived(f"mirror:{message.rsplit(' ', 1)[-1]}")
        self.cursor = len(calls)
        return False

    async def run(self) -> None:
        # wait_for re-checks the predicate after every recorded call: a stamp per call.
        with contextlib.suppress(TimeoutError):
            await self.slack.wait_for(self.scan, seconds=3600)


@contextlib.asynccontextmanager
async def served(database: Database, slack: LocalSlack, smtp_port: int) -> AsyncIterator[str]:
    """`tenderbot serve` in its own process; yields its events URL once /healthz answers."""
    port = free_port()
    environment = {
        **os.environ,
        "TENDERBOT_DATABASE_URL": database.url,
        "SLACK_API_URL": slack.url,
        "SLACK_BOT_TOKEN": LOCAL_BOT_TOKEN,
        "SLACK_SIGNING_SECRET": LOCAL_SIGNING_SECRET,
        "TENDERBOT_BACKOFFICE_USERS": BERND,
        "TENDERBOT_BACKOFFICE_CHANNEL": CHANNEL,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
    }
    if database.schema:
        environment["TENDERBOT_DATABASE_SCHEMA"] = database.schema
    tenderbot = Path(sys.executable).with_name("tenderbot")
    process = await asyncio.create_subprocess_exec(
        str(tenderbot),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        env=environment,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 60
            while True:
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{base}/healthz") as response:
                        if response.status == 200:
                            break
                if process.returncode is not None or time.monotonic() > deadline:
                    raise SystemExit("tenderbot serve did not start")
                await asyncio.sleep(0.1)
        yield f"{base}/slack/events"
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 20)
        except TimeoutError:
            process.kill()
            await process.wait()


async def offers(
    sender: SignedSender, cards: list[Cards], arrivals: Arrivals, rate: float
) -> tuple[list[float], list[float]]:
    mails: list[float] = []
    dms: list[float] = []
    valid = (date.today() + timedelta(days=60)).strftime("%d.%m.%Y")

    async def one(number: int) -> None:
        reference = cards[number].reference
        response = await sender.send_command(
            BERND,
            "/angebot",
            f"{reference} versicherer=Allianz beitrag=1.234,50 gueltig-bis={valid}",
            channel_id=CHANNEL,
        )
        acked = time.perf_counter()
        if response.status != 200:
            raise SystemExit(f"/angebot answered HTTP {response.status}")
        mail, dm = await asyncio.gather(
            arrivals.when(f"mail:{reference}"), arrivals.when(f"dm:{reference}")
        )
        mails.append(mail - acked)
        dms.append(dm - acked)

    await paced(len(cards), rate, one)
    return mails, dms


async def thread_messages(
    sender: SignedSender, cards: list[Cards], count: int, arrivals: Arrivals, rate: float
) -> list[float]:
    seconds: list[float] = []

    async def one(number: int) -> None:
        marker = f"m{number:06d}"
        started = time.perf_counter()
        response = await sender.send_message(
            BERND,
            CHANNEL,
            f"Rückfrage {marker}",
            thread_ts=cards[number % len(cards)].backoffice_ts,
        )
        if response.status != 200:
            raise SystemExit(f"the thread message answered HTTP {response.status}")
        seconds.append(await arrivals.when(f"mirror:{marker}") - started)

    await paced(count, rate, one)
    return seconds


async def bare_mail(port: int, count: int, rate: float) -> list[float]:
    seconds: list[float] = []

    async def one(number: int) -> None:
        message = EmailMessage()
        message["From"] = "tenderbot@localhost"
        message["To"] = "anna@example.org"
        message["Subject"] = f"bare {number}"
        message.set_content("Neues Angebot")
        started = time.perf_counter()
        await aiosmtplib.send(message, hostname="127.0.0.1", port=port, start_tls=False)
        seconds.append(time.perf_counter() - started)

    await paced(count, rate, one)
    return seconds


async def bare_post(slack: LocalSlack, count: int, rate: float) -> list[float]:
    client = AsyncWebClient(token=LOCAL_BOT_TOKEN, base_url=slack.url)
    seconds: list[float] = []

    async def one(number: int) -> None:
        started = time.perf_counter()
        await client.chat_postMessage(channel="C0BARE", text=f"bare {number}")
        seconds.append(time.perf_counter() - started)

    await paced(count, rate, one)
    return seconds


def row(
    path: str, ours: list[float], baseline: list[float], goal_ms: float | None
) -> dict[str, Any]:
    ours_p50, ours_p99 = percentiles(ours)
    base_p50, base_p99 = percentiles(baseline)
    print(
        f"{path:<34} p50 {ours_p50:7.1f} ms  p99 {ours_p99:7.1f} ms   "
        f"bare p50 {base_p50:6.1f} ms  p99 {base_p99:6.1f} ms"
    )
    return {
        "path": path,
        "ours": f"p99 {ours_p99:.0f} ms (p50 {ours_p50:.0f})",
        "baseline": f"p99 {base_p99:.1f} ms",
        "ratio": f"×{ours_p99 / base_p99:.0f}",
        "goal": f"p99 < {goal_ms:.0f} ms" if goal_ms else "–",
        "met": None if goal_ms is None else ours_p99 < goal_ms,
    }


async def run(database: Database, count: int, messages: int, rate: float) -> None:
    loop = asyncio.get_running_loop()
    arrivals = Arrivals(loop)
    smtp_port = free_port()
    controller = Controller(MailSink(arrivals), hostname="127.0.0.1", port=smtp_port)
    controller.start()
    try:
        async with LocalSlack() as slack:
            slack.add_user(ANNA, NAMES[ANNA])
            slack.add_user(BERND, NAMES[BERND])
            cards = await seed_tenders(database, slack, count)
            watch = SlackWatch(slack, arrivals)
            watcher = asyncio.create_task(watch.run())
            try:
                bare_mails = await bare_mail(smtp_port, count, rate)
                bare_posts = await bare_post(slack, count, rate)
                async with (
                    served(database, slack, smtp_port) as events_url,
                    SignedSender(events_url, LOCAL_SIGNING_SECRET, slack) as sender,
                ):
                    mails, dms = await offers(sender, cards, arrivals, rate)
                    mirrored = await thread_messages(sender, cards, messages, arrivals, rate)
            finally:
                watcher.cancel()
    finally:
        controller.stop()
    goal = GOAL_SECONDS * 1000
    rows = [
        row(f"offer → e-mail accepted, {rate:g}/s", mails, bare_mails, goal),
        row(f"offer → DM notice, {rate:g}/s", dms, bare_posts, goal),
        row(f"thread message → mirror, {rate:g}/s", mirrored, bare_posts, goal),
    ]
    print("RESULT " + json.dumps(rows, ensure_ascii=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=50, help="offers, one tender each")
    parser.add_argument("--messages", type=int, default=50, help="thread messages")
    parser.add_argument("--rate", type=float, default=5.0, help="per second, open loop")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    if not (1 <= args.offers <= 1000 and 1 <= args.messages <= 1000 and 0 < args.rate <= 100):
        parser.error("--offers/--messages 1…1000, --rate up to 100")
    print(f"{args.offers} offers and {args.messages} thread messages at {args.rate:g}/s")
    asyncio.run(measured(args))


async def measured(args: argparse.Namespace) -> None:
    async with fresh_database(args.database_url, "bench_latency") as database:
        print(f"database: {database.name}")
        await run(database, args.offers, args.messages, args.rate)


if __name__ == "__main__":
    main()
