"""Cost as the desk grows: Anna's App Home, `/ausschreibung liste`, `/angebote` and
`/verlauf` (and the backoffice's list) on a nearly empty database and on one with 10,000
brokers, 100,000 tenders and 1,000,000 thread messages, PostgreSQL, same run.

Both databases hold the same data of Anna (five tenders with offers and ten messages each),
so every answer is the same; the large one has the other brokers' data around it, copied
in bulk from one template broker with SQL. Each command is timed one at a time from the
signed request to its answer in the local Slack (the ack's message, the response_url post
or views.publish), against the real app in this process. Goal: p99 on the large database at
most 2× the nearly empty one.

    .venv/bin/python bench/growth.py --database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test
        [--brokers 10000] [--tenders-per-broker 10] [--messages-per-tender 10] [--requests 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

# Run as a script: the repository root, not bench/ (bench/pricing.py would shadow pricing/).
sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker  # noqa: E402

from bench.harness import ANNA, BERND, CHANNEL, NAMES, p99, with_schema  # noqa: E402
from bot.app import create_app  # noqa: E402
from bot.localslack import LocalSlack  # noqa: E402
from bot.localslack.running import local_settings, running_app  # noqa: E402
from store.actors import Actor  # noqa: E402
from store.brokers import BrokerData, add_broker  # noqa: E402
from store.conversation import post_message  # noqa: E402
from store.db import is_postgres, make_engine, make_sessionmaker, transaction  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from store.models import Base  # noqa: E402
from store.tender_input import RiskData, StartTender  # noqa: E402
from store.tenders import add_offer, start_tender  # noqa: E402

TEMPLATE = "U0VORLAGE"
GOAL_RATIO = 2.0


async def seed_broker(
    sessions: async_sessionmaker[AsyncSession], slack_id: str, number: str, tenders: int
) -> list[str]:
    """A broker with ``tenders`` tenders, one offer and ten thread messages each."""
    references = []
    async with transaction(sessions) as session:
        broker = await add_broker(
            session,
            BrokerData(
                slack_user_id=slack_id,
                number=number,
                name=f"Makler {number}",
                email=f"{number}@example.org",
            ),
        )
        actor = Actor(slack_user_id=slack_id, role="broker", broker_id=broker.id, name=number)
        bernd = Actor(slack_user_id=BERND, role="backoffice", name="Bernd Backoffice")
        for index in range(tenders):
            tender = await start_tender(
                session,
                actor,
                StartTender(
                    product="haftpflicht",
                    customer_name=f"Kunde {number}-{index}",
                    risk=RiskData(deductible=None, prior_claims="keine", description="Büro"),
                ),
            )
            await add_offer(
                session,
                bernd,
                tender.reference,
                insurer="Allianz",
                premium=Decimal("1234.50"),
                valid_until=date.today() + timedelta(days=60),
                today=date.today(),
            )
            for turn in range(10):
                author = bernd if turn % 2 == 0 else actor
                await post_message(session, author, tender.reference, f"Nachricht {turn}")
            references.append(tender.reference)
    return references


def _copy_rows(table: str, count: str, overrides: dict[str, str], where: str) -> str:
    """INSERT … SELECT of the template's rows ``count`` times (g = 1…), columns overridden."""
    columns = [c.name for c in Base.metadata.tables[table].columns if c.name != "id"]
    values = ", ".join(overrides.get(name, f"t.{name}") for name in columns)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} "
        f"FROM {table} AS t CROSS JOIN generate_series(1, {count}) AS g WHERE {where}"
    )


async def grow(engine: AsyncEngine, brokers: int, tenders: int, messages: int) -> None:
    """Copy the template broker's one tender (with its offer and messages) into ``brokers``
    brokers with ``tenders`` tenders each and ``messages`` messages per tender."""
    total = brokers * tenders
    async with engine.begin() as connection:

        async def scalar(sql: str) -> int:
            return int((await connection.execute(text(sql))).scalar_one())

        template = await scalar(f"SELECT id FROM brokers WHERE slack_user_id = '{TEMPLATE}'")
        tender = await scalar(f"SELECT min(id) FROM tenders WHERE broker_id = {template}")
        line = await scalar(f"SELECT product_line_id FROM tenders WHERE id = {tender}")
        consultation = await scalar(f"SELECT consultation_id FROM product_lines WHERE id = {line}")
        conversation = await scalar(f"SELECT id FROM conversations WHERE tender_id = {tender}")
        first_message = await scalar(
            f"SELECT min(id) FROM messages WHERE conversation_id = {conversation}"
        )

        async def base(table: str) -> int:
            return await scalar(f"SELECT coalesce(max(id), 0) FROM {table}")

        b0 = await base("brokers")
        await connection.execute(
            text(
                _copy_rows(
                    "brokers",
                    str(brokers),
                    {
                        "number": "'G' || g",
                        "slack_user_id": "'UG' || g",
                        "name": "'Makler G' || g",
                        "email": "'g' || g || '@example.org'",
                    },
                    f"t.id = {template}",
                )
            )
        )
        owner = f"{b0} + 1 + (g - 1) / {tenders}"
        c0 = await base("consultations")
        await connection.execute(
            text(
                _copy_rows(
                    "consultations",
                    str(total),
                    {"broker_id": owner, "customer_name": "'Kunde ' || g"},
                    f"t.id = {consultation}",
                )
            )
        )
        p0 = await base("product_lines")
        await connection.execute(
            text(
                _copy_rows(
                    "product_lines", str(total), {"consultation_id": f"{c0} + g"}, f"t.id = {line}"
                )
            )
        )
        t0 = await base("tenders")
        await connection.execute(
            text(
                _copy_rows(
                    "tenders",
                    str(total),
                    {
                        "reference": "'GT-' || lpad(g::text, 8, '0')",
                        "product_line_id": f"{p0} + g",
                        "broker_id": owner,
                        "customer_name": "'Kunde ' || g",
                        "previous_tender_id": "NULL",
                        "selected_offer_id": "NULL",
                    },
                    f"t.id = {tender}",
                )
            )
        )
        await connection.execute(
            text(
                _copy_rows(
                    "offers",
                    str(total),
                    {"product_line_id": f"{p0} + g", "tender_id": f"{t0} + g"},
                    f"t.tender_id = {tender}",
                )
            )
        )
        v0 = await base("conversations")
        await connection.execute(
            text(
                _copy_rows(
                    "conversations",
                    str(total),
                    {"tender_id": f"{t0} + g"},
                    f"t.id = {conversation}",
                )
            )
        )
        await connection.execute(
            text(
                _copy_rows(
                    "messages",
                    str(total * messages),
                    {
                        "conversation_id": f"{v0} + 1 + (g - 1) / {messages}",
                        "body": "'Nachricht ' || g",
                        "source_ts": "NULL",
                        "source_channel": "NULL",
                        "mirror_ts": "NULL",
                        "mirror_channel": "NULL",
                    },
                    f"t.id = {first_message}",
                )
            )
        )
        for table in ("brokers", "consultations", "product_lines", "tenders", "offers"):
            await connection.execute(text(f"ANALYZE {table}"))
        await connection.execute(text("ANALYZE conversations, messages"))


Timed = Callable[[], Awaitable[None]]


async def measure(requests: int, run: Timed) -> list[float]:
    for _ in range(10):
        await run()  # warm-up: pools, caches, auth.test
    seconds = []
    for _ in range(requests):
        started = time.perf_counter()
        await run()
        seconds.append(time.perf_counter() - started)
    return seconds


async def timings(
    url: str, schema: str, requests: int, size: tuple[int, int, int] | None
) -> dict[str, list[float]]:
    engine = make_engine(url, search_path=schema)
    sessions = make_sessionmaker(engine)
    try:
        references = await seed_broker(sessions, ANNA, "4711", 5)
        if size is not None:
            await seed_broker(sessions, TEMPLATE, "0000", 1)
            started = time.perf_counter()
            await grow(engine, *size)
            print(f"  grown in {time.perf_counter() - started:.0f} s")
        async with LocalSlack() as slack:
            slack.add_user(ANNA, NAMES[ANNA])
            slack.add_user(BERND, NAMES[BERND])
            settings = local_settings(
                slack,
                url,
                backoffice_users=frozenset({BERND}),
                backoffice_channel=CHANNEL,
            )
            app = create_app(settings, sessions)
            async with running_app(settings, sessions, slack, app=app) as running:
                sender = running.sender

                def command(user: str, name: str, words: str) -> Timed:
                    async def run() -> None:
                        before = len(slack.responses(user))
                        response = await sender.send_command(user, name, words)
                        if response.status != 200:
                            raise SystemExit(f"{name} {words}: HTTP {response.status}")
                        await slack.wait_for(lambda: len(slack.responses(user)) > before, 30)

                    return run

                async def home() -> None:
                    before = len(slack.calls("views.publish"))
                    await sender.send_event(
                        {"type": "app_home_opened", "user": ANNA, "tab": "home"}
                    )
                    await slack.wait_for(lambda: len(slack.calls("views.publish")) > before, 30)

                paths: dict[str, Timed] = {
                    "App Home (Anna)": home,
                    "/ausschreibung liste (Anna)": command(ANNA, "/ausschreibung", "liste"),
                    "/ausschreibung liste (backoffice)": command(BERND, "/ausschreibung", "liste"),
                    "/angebote (Anna)": command(ANNA, "/angebote", references[0]),
                    "/verlauf (Anna)": command(ANNA, "/verlauf", references[0]),
                }
                return {name: await measure(requests, run) for name, run in paths.items()}
    finally:
        await engine.dispose()


async def main(url: str, size: tuple[int, int, int], requests: int) -> None:
    small, large = (f"bench_grow_{uuid.uuid4().hex[:8]}" for _ in range(2))
    results: dict[str, dict[str, list[float]]] = {}
    for schema in (small, large):
        await with_schema(url, schema, create=True)
    try:
        for schema in (small, large):
            await asyncio.to_thread(upgrade, url, search_path=schema)
        brokers, tenders, messages = size
        print(f"nearly empty vs {brokers:,} brokers, {brokers * tenders:,} tenders, ")
        print(f"  {brokers * tenders * messages:,} thread messages (PostgreSQL)")
        results["small"] = await timings(url, small, requests, None)
        results["large"] = await timings(url, large, requests, size)
    finally:
        for schema in (small, large):
            await with_schema(url, schema, create=False)
    rows = []
    for name in results["small"]:
        before, after = p99(results["small"][name]), p99(results["large"][name])
        median_after = statistics.median(results["large"][name]) * 1000
        print(
            f"  {name:<36} p99 {before:6.1f} ms → {after:6.1f} ms  (×{after / before:.2f}, "
            f"p50 {median_after:.1f} ms)"
        )
        rows.append(
            {
                "path": f"{name}, {brokers:,} brokers / {brokers * tenders:,} tenders",
                "ours": f"p99 {after:.0f} ms",
                "baseline": f"p99 {before:.0f} ms (nearly empty)",
                "ratio": f"×{after / before:.2f}",
                "goal": f"≤ ×{GOAL_RATIO:.0f}",
                "met": after / before <= GOAL_RATIO,
            }
        )
    print("RESULT " + json.dumps(rows, ensure_ascii=False))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--brokers", type=int, default=10_000)
    parser.add_argument("--tenders-per-broker", type=int, default=10)
    parser.add_argument("--messages-per-tender", type=int, default=10)
    parser.add_argument("--requests", type=int, default=100)
    arguments = parser.parse_args()
    if not is_postgres(arguments.database_url):
        parser.error("--database-url must be postgresql+asyncpg://…")
    size = (arguments.brokers, arguments.tenders_per_broker, arguments.messages_per_tender)
    if not (1 <= size[0] <= 100_000 and 1 <= size[1] <= 100 and 1 <= size[2] <= 100):
        parser.error("--brokers 1…100,000, --tenders-per-broker and --messages-per-tender 1…100")
    asyncio.run(main(arguments.database_url, size, max(10, min(arguments.requests, 1000))))
