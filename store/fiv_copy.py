"""The FIV import on PostgreSQL for a file whose rows are all good: COPY and SQL checks.

Reading a million rows in Python costs many times what the server needs to COPY them, so
the file goes in unparsed: COPY into a temporary table of text columns, then SQL checks the
rows, converts them and sums them per broker, year, product and access type into a second
temporary table; the older figures of the file's (year, broker) pairs are deleted and the
sums written into ``fiv_figures``. The checks are at least as strict as
``store.fiv.parse_row``: a row they do not pass (or a COPY the server refuses) rolls back to
a savepoint and returns None, and the caller reads the file row by row, which names every
bad line in German. For the rows they pass the SQL conversions give the values
``parse_row`` gives, so all paths store the same figures.

Two ways through SQL. A tidy export (no quotes, no blanks around cells, amounts below ten
million euros) is checked by one regular expression over each chunk as it streams to COPY,
in C, so SQL only converts and sums its rows. Any other file takes the per-row checks,
which trim each cell first and allow any amount that fits.
"""

from __future__ import annotations

import asyncio
import codecs
import csv
import re
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import InvalidInput
from store.fiv import MAX_CENTS, FivImportResult, _check_header

CHUNK_BYTES = 1 << 20
# About a millisecond of the tidy check at a time (see _is_tidy).
CHECK_BYTES = 1 << 16
_RAW = "fiv_raw"
_CREATE_RAW = (
    f"CREATE TEMPORARY TABLE {_RAW} (vermittlernummer TEXT, jahr TEXT, sparte TEXT, "
    "zugangsart TEXT, beitrag TEXT)"
)
# ASCII blanks only: a cell with other white space at its ends fails the checks below and
# goes the Python way (str.strip would remove it, btrim would not).
_TRIM = "E' \\t\\r\\n\\x0b\\x0c'"


# Each cell trimmed once per row (a LATERAL VALUES), checked, then converted.
_CELLS = f"""
    FROM {_RAW} CROSS JOIN LATERAL (VALUES (
        btrim(coalesce(vermittlernummer, ''), {_TRIM}), btrim(coalesce(jahr, ''), {_TRIM}),
        btrim(coalesce(sparte, ''), {_TRIM}), btrim(coalesce(zugangsart, ''), {_TRIM}),
        btrim(coalesce(beitrag, ''), {_TRIM})
    )) AS c (number, year, product, access, amount)
"""
_CENTS = "(replace(replace(c.amount, '.', ''), ',', '.')::numeric * 100)"
# Product names start and end with a letter, digit or closing bracket and hold no quote, so
# CSV quoting and Unicode white space cannot make the two paths read them differently.
_PRODUCT_OK = '^[0-9A-Za-zÄÖÜäöüß]([^"]*[0-9A-Za-zÄÖÜäöüß)])?$'
_AMOUNT_OK = "^-?([0-9]{1,3}(\\.[0-9]{3})+|[0-9]+)(,[0-9]{1,2})?$"
# The contracts summed into the figures they make (store.models.FivFigure), in a temporary
# table that the replacing below reads: a few thousand sums, not a million contracts.
_SUMS = """
    CREATE TEMPORARY TABLE fiv_sums AS
    SELECT {year} AS year, {number} AS broker_number, {product} AS product,
           {access} AS access_type, SUM({cents}) AS premium_cents, COUNT(*) AS contracts
    {source}
    GROUP BY 1, 2, 3, 4
"""
# Only rows that pass every check; a shortfall against the copied count means "not for
# COPY". SQL may evaluate either side of AND first: cast only what a pattern allowed.
_CHECKED = f"""
    WHERE c.number ~ '^[0-9A-Za-z-]{{1,32}}$'
        AND CASE WHEN c.year ~ '^[0-9]{{4}}$'
            THEN c.year::integer BETWEEN 1990 AND 2100 ELSE false END
        AND char_length(c.product) BETWEEN 1 AND 40 AND c.product ~ :product_ok
        AND c.access ~ '^[0-9]{{1,3}}$'
        AND CASE WHEN c.amount ~ :amount_ok AND length(c.amount) <= 20
            THEN abs({_CENTS}) <= :max_cents ELSE false END
"""
_SUM_CHECKED = _SUMS.format(
    year="c.year::integer",
    number="c.number",
    product="c.product",
    access="c.access::integer",
    cents=f"{_CENTS}::integer",
    source=_CELLS + _CHECKED,
)
_COUNTED = "SELECT COALESCE(SUM(contracts), 0) FROM fiv_sums"
# The file's (year, broker) pairs, per year.
_PAIRS = "SELECT year, COUNT(DISTINCT broker_number) FROM fiv_sums GROUP BY year"
# The figures the file replaces: those of its (year, broker) pairs stored before it.
_REPLACE = """
    DELETE FROM fiv_figures AS f
    USING (SELECT DISTINCT year, broker_number FROM fiv_sums) AS p
    WHERE f.year = p.year AND f.broker_number = p.broker_number
"""
_PUBLISH = """
    INSERT INTO fiv_figures (year, broker_number, product, access_type, premium_cents, contracts)
    SELECT year, broker_number, product, access_type, premium_cents, contracts FROM fiv_sums
"""


# The tidy way. One pattern over each chunk of complete lines, run by Python's regular
# expression engine in C while the chunks stream to COPY, checks every cell of a tidy
# export: no quotes, no blanks around cells, products that start with a letter or digit and
# end with one or a bracket, amounts below ten million euros. Whatever it accepts the
# per-row checks accept too, with the same values (the cells need no trimming), so SQL need
# not look at the rows again.
_LETTER = rb"(?:[0-9A-Za-z]|\xc3[\x84\x96\x9c\xa4\xb6\xbc\x9f])"  # also ÄÖÜäöüß
# Possessive quantifiers (``{m,n}+``) where nothing after them could match what they give
# back: no backtracking, a third of the time. Amounts: up to seven digits, or one thousands
# dot (999.999,99), so below ten million euros.
_TIDY_LINE = (
    rb"[0-9A-Za-z-]{1,32}+;"
    rb"(?:199[0-9]|20[0-9][0-9]|2100);"
    + _LETTER
    + rb"(?:[^\";\r\n]{0,38}(?:"
    + _LETTER
    + rb"|\)))?;"
    rb"[0-9]{1,3}+;"
    rb"-?[0-9]{1,3}+(?:\.[0-9]{3}|[0-9]{0,4}+)(?:,[0-9]{1,2})?"
    rb"\r?\n"
)
# Possessive too: a file of tidy lines needs no way back into the repetition.
_TIDY_LINES = re.compile(rb"(?:" + _TIDY_LINE + rb")*+")
# A tidy amount has at most nine digits and two decimals, so the nearest double times 100
# lies within a millionth of the exact cents and rounds to them: the same cents as numeric,
# at half the cost per row (the sum itself is of integers).
_SUM_TIDY = _SUMS.format(
    year="jahr::integer",
    number="vermittlernummer",
    product="sparte",
    access="zugangsart::integer",
    cents="round(replace(replace(beitrag, '.', ''), ',', '.')::float8 * 100)::integer",
    source=f"FROM {_RAW}",
)


class _NotForCopy(Exception):
    """The file needs the row-by-row path."""


async def import_by_copy(
    session: AsyncSession, path: Path, progress: Callable[[int], None] | None
) -> FivImportResult | None:
    """Import ``path`` with COPY; None when a row needs the Python path's judgement."""
    try:
        with path.open("rb") as stream:
            first = stream.readline()
            header = codecs.decode(first, "utf-8-sig")
            if _check_header(csv.reader([header], delimiter=";")):
                # A file naming positions (B1) is filtered row by row in Python.
                return None
            if progress is not None:
                progress(len(first))
            async with session.begin_nested():
                return await _copy_and_publish(session, path, stream, progress)
    except (_NotForCopy, UnicodeDecodeError, InvalidInput):
        return None


async def _copy_and_publish(
    session: AsyncSession, path: Path, stream: Any, progress: Callable[[int], None] | None
) -> FivImportResult:
    await session.execute(text(_CREATE_RAW))
    # The tidy check reads the file a second time in a thread, next to COPY and the sums on
    # the server: Python's regular expressions and the server each get a core, instead of
    # the server waiting for Python between chunks.
    stop = threading.Event()
    checking = asyncio.ensure_future(asyncio.to_thread(_is_tidy, path, stream.tell(), stop))
    try:
        copied = await _copy(session, stream, progress)
        # Hash the groups in memory: a file of many brokers has more than the default 4 MB.
        await session.execute(text("SET LOCAL work_mem = '64MB'"))
        # Summed as if tidy while the check runs (unless it has already said no); the sums
        # are kept only if the check agrees.
        hopeful = not checking.done() or checking.result()
        summed = hopeful and await _sum_tidy(session)
        if not (await checking and summed):
            if summed:
                await session.execute(text("DROP TABLE fiv_sums"))
            await _sum_checked(session, copied)
    finally:
        stop.set()
        await asyncio.wait([checking])
    pairs = (await session.execute(text(_PAIRS))).all()
    result = FivImportResult(
        imported=copied,
        pairs=sum(count for _year, count in pairs),
        years={year for year, _count in pairs},
    )
    await session.execute(text("ANALYZE fiv_sums"))
    await session.execute(text(_REPLACE))
    await session.execute(text(_PUBLISH))
    await session.execute(text(f"DROP TABLE fiv_sums, {_RAW}"))
    return result


async def _copy(session: AsyncSession, stream: Any, progress: Callable[[int], None] | None) -> int:
    """COPY the rest of ``stream`` into the raw table; the number of rows copied."""
    driver = (await (await session.connection()).get_raw_connection()).driver_connection
    assert driver is not None
    try:
        status = await driver.copy_to_table(
            _RAW, source=_chunks(stream, progress), format="csv", delimiter=";"
        )
    except Exception as error:  # any refusal (columns, encoding): the Python path explains
        raise _NotForCopy from error
    return int(str(status).rsplit(" ", 1)[-1])


async def _sum_tidy(session: AsyncSession) -> bool:
    """Sum the rows as a tidy file's (``_TIDY_LINE``): cells that need no trimming and no
    check in SQL. False when a cell does not even convert; the sums are then left out."""
    try:
        async with session.begin_nested():
            await session.execute(text(_SUM_TIDY))
    except DBAPIError:
        return False
    return True


async def _sum_checked(session: AsyncSession, copied: int) -> None:
    """Sum the rows that pass the per-row checks; ``_NotForCopy`` unless all ``copied`` do."""
    checks = {"product_ok": _PRODUCT_OK, "amount_ok": _AMOUNT_OK, "max_cents": MAX_CENTS}
    await session.execute(text(_SUM_CHECKED), checks)
    if await session.scalar(text(_COUNTED)) != copied:
        raise _NotForCopy


def _is_tidy(path: Path, start: int, stop: threading.Event) -> bool:
    """Are all lines of ``path`` from byte ``start`` on tidy? Read in small pieces: the
    regular expression holds the interpreter while it runs, and COPY's chunks wait for it."""
    check = _TidyCheck()
    with path.open("rb") as stream:
        stream.seek(start)
        while check.tidy and not stop.is_set() and (piece := stream.read(CHECK_BYTES)):
            check.feed(piece)
    return not stop.is_set() and check.finish()


class _TidyCheck:
    """Is every line fed so far tidy (``_TIDY_LINE``)? Fed the file in pieces; a line split
    between two pieces is checked with the second."""

    def __init__(self) -> None:
        self.tidy = True
        self._rest = b""

    def feed(self, chunk: bytes) -> None:
        if not self.tidy:
            return
        end = chunk.rfind(b"\n") + 1
        if end == 0:
            self._rest += chunk
            return
        lines = self._rest + chunk[:end] if self._rest else chunk[:end]
        self._rest = chunk[end:]
        self.tidy = _TIDY_LINES.fullmatch(lines) is not None

    def finish(self) -> bool:
        if self.tidy and self._rest:
            # The last line without its line break.
            self.tidy = _TIDY_LINES.fullmatch(self._rest + b"\n") is not None
            self._rest = b""
        return self.tidy


async def _chunks(stream: Any, progress: Callable[[int], None] | None) -> AsyncIterator[bytes]:
    while chunk := stream.read(CHUNK_BYTES):
        if progress is not None:
            progress(len(chunk))
        yield chunk
