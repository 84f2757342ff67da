"""`tenderbot fiv import` of a large file, next to PostgreSQL's COPY of the same file.

The file has ``--rows`` FIV rows (German amounts, 20,000 brokers, two years). The baseline
is ``COPY … FROM STDIN (FORMAT csv)`` of that file into a table of five text columns, through
asyncpg: reading the file into the server with no checks at all. Ours is the operator's
command, `tenderbot fiv import FILE`, as its own process (start-up included): it checks
every row, converts the amounts and replaces the figures in one transaction (on PostgreSQL:
COPY into a temporary table, checks in SQL, then the contracts summed per broker, year,
product and access type into fiv_figures). From the second round on the import replaces
every figure of the first (a yearly re-import). Rounds alternate which goes first; the
median counts. Goal: at most 3× the COPY.

    TENDERBOT_DATABASE_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python bench/fiv.py [--rows 1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Run as a script: the repository root, not bench/ (bench/pricing.py would shadow pricing/).
sys.path[0] = str(Path(__file__).resolve().parents[1])

from sqlalchemy import text  # noqa: E402

from bench.harness import fresh_database  # noqa: E402
from store.db import is_postgres, make_engine  # noqa: E402
from store.fiv import HEADER  # noqa: E402

GOAL_RATIO = 3.0
PRODUCTS = ("sach", "haftpflicht", "rechtsschutz", "cyber")


def write_file(path: Path, rows: int) -> None:
    chance = random.Random(4711)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write(";".join(HEADER) + "\n")
        for number in range(rows):
            cents = chance.randrange(100, 10_000_000)
            euros, rest = divmod(cents, 100)
            amount = f"{euros:,}".replace(",", ".") + f",{rest:02d}"
            broker = 10_000 + number % 20_000
            year = 2024 + number % 2
            product = PRODUCTS[number % len(PRODUCTS)]
            out.write(f"{broker};{year};{product};{1 + number % 2};{amount}\n")


async def copy_file(url: str, schema: str, path: Path) -> float:
    """COPY into five text columns of a table of their own."""
    engine = make_engine(url, search_path=schema)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE IF EXISTS copy_target"))
            await connection.execute(
                text(
                    "CREATE TABLE copy_target (vermittlernummer TEXT, jahr TEXT, "
                    "sparte TEXT, zugangsart TEXT, beitrag TEXT)"
                )
            )
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            started = time.perf_counter()
            async with driver.transaction():
                await driver.copy_to_table(
                    "copy_target",
                    source=str(path),
                    columns=list(HEADER),
                    schema_name=schema,
                    format="csv",
                    delimiter=";",
                    header=True,
                )
            return time.perf_counter() - started
    finally:
        await engine.dispose()


async def tenderbot_import(url: str, schema: str, path: Path) -> float:
    environment = {
        **os.environ,
        "TENDERBOT_DATABASE_URL": url,
        "TENDERBOT_DATABASE_SCHEMA": schema,
    }
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("tenderbot")),
        "fiv",
        "import",
        str(path),
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 900)
    elapsed = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"tenderbot fiv import failed: {output.decode()[-300:]}")
    return elapsed


async def main(url: str, rows: int, rounds: int) -> None:
    async with fresh_database(url, "bench_fiv") as database:
        schema = database.schema
        assert schema is not None  # a PostgreSQL URL, checked by the caller
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "fiv.csv"
            await asyncio.to_thread(write_file, path, rows)
            size = path.stat().st_size / 1e6
            print(f"{rows:,} rows, {size:.0f} MB, PostgreSQL, median of {rounds} rounds")
            copies: list[float] = []
            ours: list[float] = []
            for number in range(rounds):
                order = ("copy", "ours") if number % 2 == 0 else ("ours", "copy")
                for side in order:
                    if side == "copy":
                        copies.append(await copy_file(url, schema, path))
                    else:
                        ours.append(await tenderbot_import(url, schema, path))
    copy, mine = statistics.median(copies), statistics.median(ours)
    print(f"  COPY … FROM STDIN (csv, text columns)   {copy:7.2f} s")
    print(f"  tenderbot fiv import (process)          {mine:7.2f} s   ×{mine / copy:.2f}")
    rows_out = [
        {
            "path": f"`tenderbot fiv import`, {rows:,} rows (PostgreSQL)",
            "ours": f"{mine:.1f} s",
            "baseline": f"{copy:.1f} s (COPY of the file)",
            "ratio": f"×{mine / copy:.2f}",
            "goal": f"≤ ×{GOAL_RATIO:.0f}",
            "met": mine / copy <= GOAL_RATIO,
        },
    ]
    print("RESULT " + json.dumps(rows_out, ensure_ascii=False))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("TENDERBOT_DATABASE_URL"))
    arguments = parser.parse_args()
    if not arguments.database_url or not is_postgres(arguments.database_url):
        parser.error("needs PostgreSQL: --database-url or TENDERBOT_DATABASE_URL=postgresql+…")
    if not (1 <= arguments.rows <= 5_000_000 and 1 <= arguments.rounds <= 9):
        parser.error("--rows 1…5,000,000, --rounds 1…9")
    asyncio.run(main(arguments.database_url, arguments.rows, arguments.rounds))
