"""Time the yearly budget distribution on PostgreSQL: `python bench/budget.py`.

Builds its own schema with generated data (100,000 brokers, ~1,000,000 FIV contracts by
default, via generate_series, summed into figures as the import stores them), then times
`distribute_budget` (the one transaction that books the year) next to one hand-written
statement that sums the same figures, books them into the same ledger table and adds them
to the same balances, in the same run, and after it the notices that
`queue_distribution_notices` writes batch by batch once the bookings are committed. Every
round rolls back, so both sides always see the same data. Prints both, the ratio and where
the distribution spends its time. The schema is dropped at the end.

    TENDERBOT_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \
        .venv/bin/python bench/budget.py [--brokers N] [--rows N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import event, text  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncEngine  # noqa: E402

from store.db import is_postgres, make_engine, make_sessionmaker  # noqa: E402
from store.distribution import NOTICE_BATCH, distribute_budget, queue_notice_batch  # noqa: E402
from store.migrate import upgrade  # noqa: E402

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
YEAR = 2026

BROKERS = """
    INSERT INTO brokers (number, slack_user_id, name, email, cc_emails,
                         notify_email, notify_slack, created_at)
    SELECT 'V' || g, 'UB' || g, 'Makler ' || g, 'makler' || g || '@bench.example',
           CASE WHEN g % 10 = 0 THEN json_build_array('cc' || g || '@bench.example')
                ELSE '[]'::json END,
           true, true, now()
    FROM generate_series(1, :brokers) AS g
"""
# Some balances negative (credit used, B3), most positive (carried over).
ACCOUNTS = """
    INSERT INTO budget_accounts (broker_id, balance_cents, credit_limit_cents)
    SELECT id, (id * 7919) % 200000 - 50000, 100000 FROM brokers
"""
# About ten contracts per broker, mostly last year's new premium: every 4th Zugangsart 2,
# every 10th the year before, every 100th for a broker number nobody has. Stored as the
# import stores them: summed per broker, year, product and access type.
FIGURES = """
    INSERT INTO fiv_figures (year, broker_number, product, access_type, premium_cents, contracts)
    SELECT year, broker_number, product, access_type, SUM(premium_cents), COUNT(*)
    FROM (
        SELECT CASE WHEN (g / 7) % 10 = 0 THEN :year - 2 ELSE :year - 1 END AS year,
               CASE WHEN g % 100 = 0 THEN 'X' || (g / 1000)
                    ELSE 'V' || (1 + g % :brokers) END AS broker_number,
               (ARRAY['sach', 'haftpflicht', 'rechtsschutz', 'inhalt'])[1 + g % 4] AS product,
               CASE WHEN (g / 3) % 4 = 0 THEN 2 ELSE 1 END AS access_type,
               1000 + (g::bigint * 7919) % 500000 AS premium_cents
        FROM generate_series(1, :rows) AS g
    ) AS contracts
    GROUP BY year, broker_number, product, access_type
"""
# The bare baseline does the same logical work in one hand-written statement: 3 % of last
# year's new premium booked into the same ledger and added to the same balances (an account
# opened where there is none), without the once-a-year claim, the report of unknown broker
# numbers, the B3 count or the notice run.
RAW = """
    WITH booked AS (
        INSERT INTO ledger_entries (broker_id, amount_cents, kind, reference, note, created_at)
        SELECT b.id, (s.total * 3 + 50) / 100, 'distribution', :reference, 'raw', now()
        FROM (SELECT broker_number, SUM(premium_cents) AS total
              FROM fiv_figures WHERE year = :base_year AND access_type = 1
              GROUP BY broker_number) AS s
        JOIN brokers AS b ON b.number = s.broker_number
        WHERE s.total * 3 + 50 >= 100
        RETURNING broker_id, amount_cents
    )
    INSERT INTO budget_accounts AS a (broker_id, balance_cents, credit_limit_cents)
    SELECT broker_id, amount_cents, 0 FROM booked
    ON CONFLICT (broker_id) DO UPDATE SET balance_cents = a.balance_cents + excluded.balance_cents
"""


def statement_kind(statement: str) -> str:
    words = statement.split()
    head = " ".join(words[:3]).lower()
    if head.startswith("insert into budget_sums"):
        return "sum FIV rows (INSERT … GROUP BY)"
    if head.startswith("with booked as"):
        return "book ledger and move balances"
    if head.startswith(("insert into ledger_entries", "update budget_accounts")):
        return "book or move separately"
    return "other (claim, counts, report)"


class StatementClock:
    """Time per statement kind, measured at the driver, to show where the time goes."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.totals: dict[str, float] = defaultdict(float)
        self.active = False
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)
        event.listen(engine.sync_engine, "after_cursor_execute", self._after)

    def _before(self, _conn: Any, _cursor: Any, _statement: str, *_args: Any) -> None:
        self._start = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if self.active:
            self.totals[statement_kind(statement)] += time.perf_counter() - self._start


async def prepare(engine: AsyncEngine, brokers: int, rows: int) -> None:
    async with engine.begin() as connection:
        await connection.execute(text(BROKERS), {"brokers": brokers})
        await connection.execute(text(ACCOUNTS))
        await connection.execute(text(FIGURES), {"brokers": brokers, "rows": rows, "year": YEAR})
    await tidy(engine)


async def tidy(engine: AsyncEngine) -> None:
    """Rolled-back rounds leave dead rows and index entries; without a VACUUM every later
    round (and whichever side runs second) pays for the earlier ones."""
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE"))


async def time_raw(engine: AsyncEngine) -> tuple[float, int]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        start = time.perf_counter()
        result = await connection.execute(
            text(RAW), {"reference": str(YEAR), "base_year": YEAR - 1}
        )
        elapsed = time.perf_counter() - start
        await transaction.rollback()
    return elapsed, result.rowcount


async def time_distribution(
    engine: AsyncEngine, clock: StatementClock
) -> tuple[float, float, int, int]:
    """The distribution's transaction, then its notices batch by batch (as
    queue_distribution_notices does after the commit, here in the same transaction so the
    round can be rolled back); returns both durations, brokers and notices."""
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        transaction = await session.begin()
        clock.active = True
        start = time.perf_counter()
        result = await distribute_budget(session, YEAR)
        elapsed = time.perf_counter() - start
        clock.active = False
        notices = 0
        start = time.perf_counter()
        while (batch := await queue_notice_batch(session)) is not None:
            notices += batch
        queueing = time.perf_counter() - start
        await transaction.rollback()
    return elapsed, queueing, result.brokers, notices


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    url = os.environ.get("TENDERBOT_DATABASE_URL", DEFAULT_URL)
    if not is_postgres(url):
        sys.exit(
            "bench/budget.py needs PostgreSQL: set TENDERBOT_DATABASE_URL=postgresql+asyncpg://…"
        )

    schema = f"bench_budget_{uuid.uuid4().hex[:8]}"
    admin = make_engine(url)
    async with admin.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = make_engine(url, search_path=schema)
    try:
        await asyncio.to_thread(upgrade, url, search_path=schema)
        start = time.perf_counter()
        await prepare(engine, options.brokers, options.rows)
        print(
            f"data: {options.brokers:,} brokers, {options.rows:,} FIV contracts "
            f"(generated in {time.perf_counter() - start:.1f} s, schema {schema})"
        )
        clock = StatementClock(engine)
        raw_times: list[float] = []
        ours: list[float] = []
        queueing: list[float] = []
        booked = brokers = notices = 0
        for round_number in range(options.rounds):
            # Alternate who goes first so neither side always meets the warmer cache.
            for side in ("raw", "ours") if round_number % 2 == 0 else ("ours", "raw"):
                if side == "raw":
                    elapsed, booked = await time_raw(engine)
                    raw_times.append(elapsed)
                else:
                    elapsed, queued, brokers, notices = await time_distribution(engine, clock)
                    ours.append(elapsed)
                    queueing.append(queued)
                await tidy(engine)
        if booked != brokers:
            sys.exit(f"mismatch: raw SQL booked {booked} brokers, distribution {brokers}")
        raw, dist = statistics.median(raw_times), statistics.median(ours)
        told = statistics.median(queueing)
        print(f"raw SQL (ledger and balances):      {raw * 1000:8.0f} ms  ({booked:,} brokers)")
        print(
            f"distribute_budget (its transaction): {dist * 1000:8.0f} ms  "
            f"({brokers:,} brokers: sums, ledger, balances, job run, notice run)"
        )
        print(f"ratio: {dist / raw:.2f}× the raw SQL (median of {options.rounds} rounds)")
        print("where the distribution spends its time (mean per round, at the driver):")
        for kind, seconds in sorted(clock.totals.items(), key=lambda item: -item[1]):
            print(f"  {kind:34} {seconds / options.rounds * 1000:8.0f} ms")
        batches = -(-brokers // NOTICE_BATCH)
        print(
            f"then, after the commit, the notices: {told * 1000:.0f} ms for {notices:,} outbox "
            f"rows in {batches} transactions of {NOTICE_BATCH:,} brokers "
            f"(with them {(dist + told) / raw:.2f}× the raw SQL)"
        )
        row = {
            "path": f"budget run, {brokers:,} brokers (PostgreSQL)",
            "ours": f"{dist * 1000:.0f} ms",
            "baseline": f"{raw * 1000:.0f} ms (raw SQL)",
            "ratio": f"×{dist / raw:.2f}",
            "goal": "≤ ×1.5",
            "met": dist / raw <= 1.5,
        }
        print("RESULT " + json.dumps([row], ensure_ascii=False))
    finally:
        await engine.dispose()
        async with admin.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()


if __name__ == "__main__":
    asyncio.run(main())
