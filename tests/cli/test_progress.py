"""Long commands: a bar on a terminal, plain lines in a log, the summary on stdout."""

from __future__ import annotations

import io

from bot.cli.progress import progress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_it_prints_one_plain_line_per_tenth_when_not_on_a_terminal() -> None:
    out = io.StringIO()
    with progress("FIV-Import fiv.csv", 1000, stream=out) as advance:
        for _ in range(40):
            advance(25)  # 40 × 25 = the whole; ten lines, not forty

    assert out.getvalue().splitlines() == [f"FIV-Import fiv.csv: {n * 10} %" for n in range(1, 11)]


def test_it_never_reports_more_than_the_whole() -> None:
    out = io.StringIO()
    with progress("Benachrichtigungen 2026", 3, stream=out) as advance:
        advance(5000)  # the last batch may be larger than what was left

    assert out.getvalue().splitlines() == ["Benachrichtigungen 2026: 100 %"]


def test_it_draws_a_bar_on_a_terminal() -> None:
    out = Terminal()
    with progress("FIV-Import fiv.csv", 200, stream=out) as advance:
        advance(100)
        advance(100)

    assert "FIV-Import fiv.csv" in out.getvalue()
    assert "100%" in out.getvalue()
