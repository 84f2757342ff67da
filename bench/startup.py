"""How long `tenderbot rabatt …` and `tenderbot --help` take as processes, next to
`python -c pass` in the same run (the interpreter's own start-up).

Each command runs ``--rounds`` times, interleaved with the baseline so a noisy neighbour hits
both alike; the median wall time counts. Goal: `rabatt` under 300 ms and at most 3× the bare
interpreter. The CPU time of each process (user + system) is printed next to it: it moves
far less with the machine's load than the wall time does.

The project's bytecode is compiled first, as installing a package compiles it: with
``PYTHONDONTWRITEBYTECODE`` set (as in some shells) every run would otherwise compile our
modules from source again and time the compiler instead of the start.

    .venv/bin/python bench/startup.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("bot", "pricing", "store", "handlers", "notifications")
TENDERBOT = str(Path(sys.executable).with_name("tenderbot"))
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "tenderbot rabatt umstellung …": [
        TENDERBOT,
        "rabatt",
        "umstellung sparte=sach renta=40 alt=1000 neu=1500 tarifjahr=2015 monate=24",
    ],
    "tenderbot --help": [TENDERBOT, "--help"],
}
GOAL_MS = 300.0
GOAL_RATIO = 3.0


def once(command: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system) of one run of ``command``."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command[:2])} failed")
    return elapsed, usage.ru_utime + usage.ru_stime


def compile_bytecode() -> None:
    for package in PACKAGES:
        compileall.compile_dir(ROOT / package, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    rounds = max(1, min(parser.parse_args().rounds, 200))
    compile_bytecode()
    for command in COMMANDS.values():
        once(command)  # warm the page cache
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    cpu: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(rounds):
        for name, command in COMMANDS.items():
            wall, used = once(command)
            times[name].append(wall)
            cpu[name].append(used)
    median = {name: statistics.median(values) * 1000 for name, values in times.items()}
    median_cpu = {name: statistics.median(values) * 1000 for name, values in cpu.items()}
    bare = median["python -c pass"]
    bare_cpu = median_cpu["python -c pass"]
    rows = []
    print(f"median of {rounds} runs, load {os.getloadavg()[0]:.1f}")
    for name, value in median.items():
        ratio = value / bare
        low, high = min(times[name]) * 1000, max(times[name]) * 1000
        used = median_cpu[name]
        print(
            f"  {name:<32} {value:7.1f} ms  (×{ratio:.1f}; {low:.0f}–{high:.0f} ms)  "
            f"CPU {used:6.1f} ms (×{used / bare_cpu:.1f})"
        )
        if name == "python -c pass":
            continue
        rows.append(
            {
                "path": f"`{name}` as a process",
                "ours": f"{value:.0f} ms",
                "baseline": f"{bare:.0f} ms",
                "ratio": f"×{ratio:.1f}",
                "goal": f"< {GOAL_MS:.0f} ms, ≤ ×{GOAL_RATIO:.0f}",
                "met": value < GOAL_MS and ratio <= GOAL_RATIO,
            }
        )
    print("RESULT " + json.dumps(rows, ensure_ascii=False))


if __name__ == "__main__":
    main()
