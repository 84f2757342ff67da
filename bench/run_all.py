"""Run every benchmark and print one table: path, ours, baseline, ratio, goal, met or not.

Each bench runs as its own process with bounded sizes and a time limit, and ends with a
``RESULT [...]`` line (JSON rows) that this script collects. Benches that need PostgreSQL
(the budget run, the thread mirror's goal) use ``--database-url`` or
``TENDERBOT_DATABASE_URL``; without one they are listed as not run. Every bench talks only to
127.0.0.1.

    .venv/bin/python bench/run_all.py [--only startup,pricing,…]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

BENCH = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Bench:
    name: str
    arguments: tuple[str, ...] = ()
    postgres: bool = False  # passes --database-url, or runs only with PostgreSQL
    postgres_only: bool = False
    environment_url: bool = False  # reads TENDERBOT_DATABASE_URL instead of an option
    timeout: float = 600


BENCHES = (
    Bench("startup", ("--rounds", "20"), timeout=300),
    Bench("pricing", timeout=300),
    Bench("latency", ("--offers", "50", "--messages", "50", "--rate", "5"), postgres=True),
    Bench("ack", ("--requests", "1000", "--concurrency", "10"), postgres=True),
    Bench("mirror", ("--messages", "400", "--concurrency", "10"), postgres=True),
    Bench("mail", ("--messages", "500", "--rounds", "2"), environment_url=True),
    Bench("platform_charges", ("--events", "1000", "--concurrency", "10"), postgres=True),
    Bench("budget", ("--rounds", "1"), postgres_only=True, environment_url=True, timeout=1200),
    Bench("fiv", ("--rows", "1000000", "--rounds", "1"), postgres_only=True, timeout=1200),
    Bench("growth", ("--requests", "50"), postgres_only=True, timeout=1800),
)


def run(bench: Bench, url: str | None) -> list[dict[str, object]]:
    script = BENCH / f"{bench.name}.py"
    if not script.exists():
        return []
    if bench.postgres_only and not url:
        return [_row(bench.name, "not run: needs --database-url (PostgreSQL)")]
    command = [sys.executable, str(script), *bench.arguments]
    environment = dict(os.environ)
    environment.pop("TENDERBOT_DATABASE_URL", None)
    if url and bench.environment_url:
        environment["TENDERBOT_DATABASE_URL"] = url
    elif url and (bench.postgres or bench.postgres_only):
        command += ["--database-url", url]
    started = time.monotonic()
    try:
        done = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=bench.timeout,
            env=environment,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return [_row(bench.name, f"not finished within {bench.timeout:.0f} s")]
    seconds = time.monotonic() - started
    print(f"# {bench.name}: {seconds:.0f} s, exit {done.returncode}", file=sys.stderr)
    # Each bench's own lines as they come, so a long run shows (and keeps) its progress.
    print(done.stdout, file=sys.stderr, flush=True)
    rows: list[dict[str, object]] = []
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            rows.extend(json.loads(line.removeprefix("RESULT ")))
    if done.returncode != 0 or not rows:
        problem = (done.stderr.strip().splitlines() or ["no RESULT line"])[-1]
        rows.append(_row(bench.name, f"failed: {problem[:120]}"))
    return rows


def _row(name: str, problem: str) -> dict[str, object]:
    return {"path": name, "ours": problem, "baseline": "", "ratio": "", "goal": "", "met": None}


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    with_name = Path("/proc/cpuinfo")
    if with_name.exists():
        for line in with_name.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{cpu}, {os.cpu_count()} cores, load {load:.1f} at start, "
        f"Python {platform.python_version()}, {platform.system()} {platform.release()}"
    )


def table(rows: list[dict[str, object]]) -> str:
    header = ("path", "ours", "baseline", "ratio", "goal", "met")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        met = {True: "yes", False: "**no**", None: "–"}[row.get("met")]  # type: ignore[index]
        cells = [str(row.get(name, "")) for name in header[:-1]] + [met]
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("TENDERBOT_DATABASE_URL"))
    parser.add_argument("--only", default="", help="comma list of bench names")
    arguments = parser.parse_args()
    url = arguments.database_url
    if url and not url.startswith("postgresql"):
        parser.error("--database-url must be postgresql+asyncpg://…")
    chosen = {name for name in arguments.only.split(",") if name}
    print(f"Machine: {machine()}")
    print(
        f"Run: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, database {'PostgreSQL' if url else 'SQLite'}"
    )
    rows: list[dict[str, object]] = []
    for bench in BENCHES:
        if chosen and bench.name not in chosen:
            continue
        rows.extend(run(bench, url))
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
