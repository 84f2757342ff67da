"""Progress of a long command on stderr: a bar on a terminal, plain lines otherwise.

stdout keeps only the summary at the end, so scripts can read it; a log file or a pipe gets
one line per tenth of the way instead of a redrawn bar.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TextIO

import click

Advance = Callable[[int], None]


@contextmanager
def progress(label: str, total: int, *, stream: TextIO | None = None) -> Iterator[Advance]:
    """Yield ``advance(steps)``; ``total`` steps make the whole (bytes, rows, brokers)."""
    out = stream or sys.stderr
    if out.isatty():
        with click.progressbar(length=max(total, 1), label=label, file=out) as bar:
            yield bar.update
        return
    done = 0
    reported = 0

    def advance(steps: int) -> None:
        nonlocal done, reported
        done += steps
        tenth = min(10, done * 10 // max(total, 1))
        if tenth > reported:
            reported = tenth
            click.echo(f"{label}: {tenth * 10} %", file=out)

    yield advance
