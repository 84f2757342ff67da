"""How long `tenderbot rabatt …` and `tenderbot --help` take as processes, next to
`python -c pass` in the same run (the interpreter's own start-up).

Each command runs ``--rounds`` times, interleaved with the baseline so a noisy neighbour hits
both alike; the median wall time counts. Goal: `rabatt` under 300 ms and at most 3× the bare
interpreter.

    .venv/bin/python bench/startup.py [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

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


def once(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, timeout=60)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    rounds = max(1, min(parser.parse_args().rounds, 200))
    for command in COMMANDS.values():
        once(command)  # warm the page cache and the bytecode
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(rounds):
        for name, command in COMMANDS.items():
            times[name].append(once(command))
    median = {name: statistics.median(values) * 1000 for name, values in times.items()}
    bare = median["python -c pass"]
    rows = []
    print(f"median of {rounds} runs")
    for name, value in median.items():
        ratio = value / bare
        low, high = min(times[name]) * 1000, max(times[name]) * 1000
        print(f"  {name:<32} {value:7.1f} ms  (×{ratio:.1f}; {low:.0f}–{high:.0f} ms)")
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
