"""The FIV import on PostgreSQL for a file whose rows are all good: COPY and SQL checks.

Reading a million rows in Python costs many times what the server needs to COPY them, so
the file goes in unparsed: COPY into a temporary table of text columns, then SQL checks and
converts the rows into ``fiv_figures`` and deletes the older figures of the file's
(year, broker) pairs. The checks are at least as strict as ``store.fiv.parse_row``: a row
they do not pass (or a COPY the server refuses) rolls back to a savepoint and returns None,
and the caller reads the file row by row, which names every bad line in German. For the rows
they pass the SQL conversions give the values ``parse_row`` gives, so all paths store the
same figures.

Two ways through SQL. A tidy export (no quotes, no blanks around cells, amounts below ten
million euros) is checked by one regular expression over each chunk as it streams to COPY,
in C, so SQL only converts its rows: the figures of its (year, broker) pairs are deleted
before the new ones are written; an import that brings at least half as many rows as the
table holds rebuilds the table's secondary index afterwards instead of updating it row by
row (a sort instead of a million random index insertions; the table is locked against
readers until the import commits). Any other file takes the per-row checks, which trim
each cell first and allow any amount that fits.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import InvalidInput
from store.fiv import MAX_CENTS, FivImportResult, _check_header

CHUNK_BYTES = 1 << 20
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
# Only rows that pass every check; a shortfall against the copied count means "not for
# COPY". SQL may evaluate either side of AND first: cast only what a pattern allowed.
_PUBLISH = f"""
    INSERT INTO fiv_figures (broker_number, year, product, access_type, premium_cents)
    SELECT c.number, c.year::integer, c.product, c.access::integer, {_CENTS}::integer
    {_CELLS}
    WHERE c.number ~ '^[0-9A-Za-z-]{{1,32}}$'
        AND CASE WHEN c.year ~ '^[0-9]{{4}}$'
            THEN c.year::integer BETWEEN 1990 AND 2100 ELSE false END
        AND char_length(c.product) BETWEEN 1 AND 40 AND c.product ~ :product_ok
        AND c.access ~ '^[0-9]{{1,3}}$'
        AND CASE WHEN c.amount ~ :amount_ok AND length(c.amount) <= 20
            THEN abs({_CENTS}) <= :max_cents ELSE false END
"""
_NEW_PAIRS = """
    CREATE TEMPORARY TABLE fiv_pairs AS
    SELECT DISTINCT year, broker_number FROM fiv_figures WHERE id > :before
"""
# The figures the file replaces: those of its (year, broker) pairs stored before it.
_REPLACE = """
    DELETE FROM fiv_figures AS f USING fiv_pairs AS p
    WHERE f.id <= :before AND f.year = p.year AND f.broker_number = p.broker_number
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
_TIDY_LINES = re.compile(rb"(?:" + _TIDY_LINE + rb")*")
_TIDY_PAIRS = f"""
    CREATE TEMPORARY TABLE fiv_pairs AS
    SELECT DISTINCT CAST(jahr AS INTEGER) AS year, vermittlernummer AS broker_number
    FROM {_RAW}
"""
_DELETE_PAIRS = """
    DELETE FROM fiv_figures AS f USING fiv_pairs AS p
    WHERE f.year = p.year AND f.broker_number = p.broker_number
"""
_TIDY_PUBLISH = f"""
    INSERT INTO fiv_figures (broker_number, year, product, access_type, premium_cents)
    SELECT vermittlernummer, jahr::integer, sparte, zugangsart::integer,
           (replace(replace(beitrag, '.', ''), ',', '.')::numeric * 100)::integer
    FROM {_RAW}
"""
# Rebuild rather than update the secondary indexes when the import is this large a share of
# the table (reltuples: the planner's row estimate, -1 before the first ANALYZE).
REBUILD_SHARE = 0.5
REBUILD_MIN_ROWS = 50_000
_ESTIMATED_ROWS = "SELECT reltuples FROM pg_class WHERE oid = CAST('fiv_figures' AS regclass)"
_SECONDARY_INDEXES = """
    SELECT CAST(CAST(i.indexrelid AS regclass) AS TEXT), pg_get_indexdef(i.indexrelid)
    FROM pg_index AS i
    WHERE i.indrelid = CAST('fiv_figures' AS regclass)
      AND NOT i.indisprimary AND NOT i.indisunique
"""


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
                return await _copy_and_publish(session, stream, progress)
    except (_NotForCopy, UnicodeDecodeError, InvalidInput):
        return None


async def _copy_and_publish(
    session: AsyncSession, stream: Any, progress: Callable[[int], None] | None
) -> FivImportResult:
    await session.execute(text(_CREATE_RAW))
    tidy = _TidyCheck()
    driver = (await (await session.connection()).get_raw_connection()).driver_connection
    assert driver is not None
    try:
        status = await driver.copy_to_table(
            _RAW, source=_chunks(stream, progress, tidy), format="csv", delimiter=";"
        )
    except Exception as error:  # any refusal (columns, encoding): the Python path explains
        raise _NotForCopy from error
    copied = int(str(status).rsplit(" ", 1)[-1])
    if tidy.finish():
        return await _publish_tidy(session, copied)
    before = await session.scalar(text("SELECT coalesce(max(id), 0) FROM fiv_figures"))
    checks = {"product_ok": _PRODUCT_OK, "amount_ok": _AMOUNT_OK, "max_cents": MAX_CENTS}
    inserted = _rowcount(await session.execute(text(_PUBLISH), checks))
    if inserted != copied:
        raise _NotForCopy
    pairs = _rowcount(await session.execute(text(_NEW_PAIRS), {"before": before}))
    years = await session.scalars(text("SELECT DISTINCT year FROM fiv_pairs"))
    result = FivImportResult(imported=inserted, pairs=pairs, years=set(years))
    await session.execute(text("ANALYZE fiv_pairs"))
    await session.execute(text(_REPLACE), {"before": before})
    await session.execute(text(f"DROP TABLE fiv_pairs, {_RAW}"))
    return result


async def _publish_tidy(session: AsyncSession, copied: int) -> FivImportResult:
    pairs = _rowcount(await session.execute(text(_TIDY_PAIRS)))
    years = await session.scalars(text("SELECT DISTINCT year FROM fiv_pairs"))
    result = FivImportResult(imported=copied, pairs=pairs, years=set(years))
    await session.execute(text("ANALYZE fiv_pairs"))
    estimated = float(await session.scalar(text(_ESTIMATED_ROWS)) or 0)
    rebuild = copied >= REBUILD_MIN_ROWS and copied >= REBUILD_SHARE * estimated
    indexes = (await session.execute(text(_SECONDARY_INDEXES))).all() if rebuild else []
    for name, _definition in indexes:
        await session.execute(text(f"DROP INDEX {name}"))
    await session.execute(text(_DELETE_PAIRS))
    await session.execute(text(_TIDY_PUBLISH))
    if indexes:
        # A sort of a million keys; the default 64 MB would spill it to disk.
        await session.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
    for _name, definition in indexes:
        await session.execute(text(definition))
    await session.execute(text(f"DROP TABLE fiv_pairs, {_RAW}"))
    return result


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class _TidyCheck:
    """Is every line fed so far tidy (``_TIDY_LINE``)? Fed the chunks as they are read;
    a line split between two chunks is checked with the second."""

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


async def _chunks(
    stream: Any, progress: Callable[[int], None] | None, tidy: _TidyCheck
) -> AsyncIterator[bytes]:
    while chunk := stream.read(CHUNK_BYTES):
        if progress is not None:
            progress(len(chunk))
        yield chunk
        # Checked once sent: the server parses this chunk while Python checks it.
        tidy.feed(chunk)
