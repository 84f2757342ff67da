"""`tenderbot --help` and `tenderbot rabatt …` answered without importing click.

Both are asked often and do little: listing names, and a pure calculation in ``pricing``.
click alone (with the inspect, typing, uuid and gettext modules it imports) costs about as
much CPU as the interpreter's own start, so the console script first tries these two forms
here with the standard library and only builds the click group for everything else.

What is answered here must read exactly as click would print it (a test compares both);
whatever this module does not recognise (``rabatt --help``, an unknown option, a missing
query, a Kombirabatt table that cannot be read, a narrow terminal) returns None, and click
answers it as before.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import click

KOMBI_RATES_ENV = "TENDERBOT_KOMBI_RATES"
# click's convention for a usage error; a query that does not parse is one.
USAGE_ERROR = 2
USAGE = "Usage: tenderbot [OPTIONS] COMMAND [ARGS]..."
OPTIONS = ("--help", "Show this message and exit.")
# click's help formatter: at most 80 columns, two kept free, never narrower than 50.
MAX_WIDTH = 80
# click's definition lists give the first column at most 30 characters.
MAX_NAME = 30


class Lazy:
    """A command registered by ``target`` (``"package.module:attribute"``) and ``summary``,
    the first sentence of its help (a test checks they agree); imported only when it runs."""

    __slots__ = ("summary", "target")

    def __init__(self, target: str, summary: str) -> None:
        self.target = target
        self.summary = summary

    def load(self) -> click.Command:
        from importlib import import_module

        import click

        module_name, _, attribute = self.target.partition(":")
        command = getattr(import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


def help_width() -> int:
    """The width click's help formatter picks (``shutil.get_terminal_size`` without shutil)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    columns = columns or MAX_WIDTH
    return max(min(columns, MAX_WIDTH) - 2, 50)


def short_help(text: str, limit: int) -> str:
    """The first sentence of ``text``, shortened to ``limit`` the way click shortens it."""
    words = text.split()
    for index, word in enumerate(words):
        if word.endswith(".") and (index == len(words) - 1 or not words[index + 1][0].islower()):
            words = words[: index + 1]
            break
    sentence = " ".join(words)
    if len(sentence) <= limit:
        return sentence
    if limit < len("..."):
        return "..."
    import textwrap

    return textwrap.shorten(sentence, limit, placeholder="...", break_on_hyphens=False)


def render_help(commands: Mapping[str, Lazy], text: str, width: int) -> str | None:
    """The group's ``--help`` as click prints it; None where click would wrap a line."""
    longest = max(len(name) for name in commands)
    if longest > MAX_NAME or len(text) + 2 > width:
        return None
    limit = width - 6 - longest
    first = longest + 2
    lines = [USAGE, "", f"  {text}", "", "Options:"]
    lines.append(f"  {OPTIONS[0]}  {OPTIONS[1]}")
    lines += ["", "Commands:"]
    for name in sorted(commands):
        summary = short_help(commands[name].summary, limit).strip()
        lines.append(f"  {name}{' ' * (first - len(name))}{summary}".rstrip())
    return "\n".join(lines) + "\n"


def rabatt_arguments(args: Sequence[str]) -> tuple[str, bool, Path | None] | None:
    """``rabatt``'s words, ``--json`` and ``--kombi-table`` as click reads them; None for
    anything else (help, unknown or repeated options, no query), which click then explains."""
    words: list[str] = []
    as_json = False
    table: str | None = None
    options_end = False
    position = 0
    while position < len(args):
        word = args[position]
        position += 1
        if options_end or not word.startswith("-") or word == "-":
            if word == "-":
                return None
            words.append(word)
        elif word == "--":
            options_end = True
        elif word == "--json":
            as_json = True
        elif word.startswith("--kombi-table=") and table is None:
            table = word.partition("=")[2]
        elif word == "--kombi-table" and table is None and position < len(args):
            table = args[position]
            position += 1
        else:
            return None
    if not words:
        return None
    if table is None:
        table = os.environ.get(KOMBI_RATES_ENV) or None
    path = None if table is None else Path(table)
    # click.Path(dir_okay=False) refuses a directory even when the table is not needed.
    if path is not None and path.is_dir():
        return None
    return " ".join(words), as_json, path


def rabatt_answer(text: str, as_json: bool, table: Path | None) -> str:
    """The answer ``tenderbot rabatt`` prints. Raises QueryError for a query that does not
    parse, OSError or KombiTableError for a table that cannot be read."""
    import pricing
    from pricing.requests import KombiRequest

    request = pricing.parse_query(text)
    # Only a kombi query needs the table, so a broken file cannot block other answers.
    kombi = None
    if table is not None and isinstance(request, KombiRequest):
        kombi = pricing.KombiRateTable.from_toml(table.read_text(encoding="utf-8"))
    answer = pricing.answer_request(request, kombi_table=kombi)
    if as_json:
        import json

        return json.dumps(answer.to_dict(), ensure_ascii=False)
    return answer.to_text()


def answer_quickly(
    args: Sequence[str],
    commands: Mapping[str, Lazy],
    text: str,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int | None:
    """Answer ``tenderbot ARGS`` here and return the exit code, or None for click."""
    out = out or sys.stdout
    if list(args) == ["--help"]:
        page = render_help(commands, text, help_width())
        if page is None:
            return None
        out.write(page)
        return 0
    if not args or args[0] != "rabatt":
        return None
    parsed = rabatt_arguments(args[1:])
    if parsed is None:
        return None
    from pricing import KombiTableError, QueryError

    try:
        answer = rabatt_answer(*parsed)
    except QueryError as error:
        (err or sys.stderr).write(f"{error}\n")
        return USAGE_ERROR
    except (OSError, UnicodeDecodeError, KombiTableError):
        # click names the file in its own error format.
        return None
    out.write(answer + "\n")
    return 0
