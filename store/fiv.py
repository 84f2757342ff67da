"""Import of the FIV new-business figures, the base of the yearly Konzeptrabatt budget (B1).

The file is read as a stream and written in batches into a temporary staging table, so a
million contracts never sit in memory or go through the ORM one by one. Only when the whole
file has been read do two set-based statements touch ``fiv_figures``: delete every
(broker, year) pair the file contains, insert the staged contracts summed per broker, year,
product and access type (the figures B1 reads). Both run in the caller's transaction, so a
re-import replaces figures and nothing is ever counted twice.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from store import money
from store.dialect import dialect_name
from store.errors import InvalidInput

Progress = Callable[[int], None]
HEADER = ("vermittlernummer", "jahr", "sparte", "zugangsart", "beitrag")
# Optional last column: the product position. Only FirmenKonzept new business counts (B1);
# a file without the column is taken to hold FirmenKonzept figures only.
POSITION = "position"
FIRMENKONZEPT = "firmenkonzept"
BATCH_SIZE = 10_000
# Enough to find and fix a broken export; a file full of errors is not listed line by line.
MAX_LISTED_PROBLEMS = 50

_BROKER_NUMBER = re.compile(r"^[0-9A-Za-z-]{1,32}$")
# premium_cents is a 32-bit integer column on PostgreSQL.
MAX_CENTS = 2_147_483_647

_COLUMNS = "broker_number, year, product, access_type, premium_cents"
_CREATE_STAGING = (
    "CREATE TEMPORARY TABLE fiv_staging (broker_number VARCHAR(32), year INTEGER, "
    "product VARCHAR(40), access_type INTEGER, premium_cents INTEGER)"
)
# PostgreSQL: five arrays, one statement per batch; no per-row round trip and no COPY.
_STAGE_ARRAYS = text(
    f"""
    INSERT INTO fiv_staging ({_COLUMNS})
    SELECT * FROM unnest(
        CAST(:broker_number AS VARCHAR[]), CAST(:year AS INTEGER[]),
        CAST(:product AS VARCHAR[]), CAST(:access_type AS INTEGER[]),
        CAST(:premium_cents AS INTEGER[])
    )
    """
)
# SQLite: executemany of one prepared statement runs in the driver's C loop.
_STAGE_ROWS = text(
    f"INSERT INTO fiv_staging ({_COLUMNS}) "
    "VALUES (:broker_number, :year, :product, :access_type, :premium_cents)"
)
_REPLACE_PAIRS = """
    DELETE FROM fiv_figures
    WHERE (year, broker_number) IN (SELECT DISTINCT year, broker_number FROM fiv_staging)
"""
# The contracts of a file summed into its figures (store.models.FivFigure).
_GROUP = "year, broker_number, product, access_type"
_PUBLISH = f"""
    INSERT INTO fiv_figures ({_GROUP}, premium_cents, contracts)
    SELECT {_GROUP}, SUM(premium_cents), COUNT(*) FROM fiv_staging GROUP BY {_GROUP}
"""
_DROP_STAGING = "DROP TABLE fiv_staging"


@dataclass(frozen=True)
class FivRow:
    broker_number: str
    year: int
    product: str
    access_type: int
    premium_cents: int


@dataclass(frozen=True)
class RowProblem:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"Zeile {self.line}: {self.reason}"


@dataclass(frozen=True)
class OtherPosition:
    """A row of another position than FirmenKonzept: left out of the budget base (B1)."""

    line: int


@dataclass
class FivImportResult:
    imported: int = 0
    ignored_positions: int = 0  # rows of other positions than FirmenKonzept (B1)
    skipped: list[RowProblem] = field(default_factory=list)  # the first MAX_LISTED_PROBLEMS
    skipped_total: int = 0
    pairs: int = 0  # (broker, year) pairs whose figures were replaced
    years: set[int] = field(default_factory=set)


def parse_german_amount(text: str) -> int:
    """``1.234,56`` → 123456 cents; exact, no float on the way."""
    amount = money.parse_german_amount(text)
    if amount is None:
        raise ValueError(f"Beitrag „{text}“ ist kein Betrag wie 1.234,56")
    cents = int(amount * 100)
    if abs(cents) > MAX_CENTS:
        raise ValueError(f"Beitrag „{text}“ ist zu groß für einen einzelnen Vertrag")
    return cents


def parse_row(cells: list[str]) -> FivRow:
    """One data row; raises ValueError with a German reason naming the bad column."""
    if len(cells) != len(HEADER):
        raise ValueError(f"{len(cells)} statt {len(HEADER)} Spalten (Trennzeichen ist „;“)")
    number, year_text, product, access_text, amount_text = (cell.strip() for cell in cells)
    if not _BROKER_NUMBER.match(number):
        raise ValueError(f"Vermittlernummer „{number}“ ist ungültig")
    if not (year_text.isdigit() and len(year_text) == 4 and 1990 <= int(year_text) <= 2100):
        raise ValueError(f"Jahr „{year_text}“ ist kein vierstelliges Jahr")
    if not product or len(product) > 40:
        raise ValueError("Sparte fehlt oder ist länger als 40 Zeichen")
    if not (access_text.isdigit() and len(access_text) <= 3):
        raise ValueError(f"Zugangsart „{access_text}“ ist keine Zahl")
    return FivRow(
        broker_number=number,
        year=int(year_text),
        product=product,
        access_type=int(access_text),
        premium_cents=parse_german_amount(amount_text),
    )


def is_firmenkonzept(position: str) -> bool:
    return "".join(ch for ch in position.lower() if ch.isalnum()) == FIRMENKONZEPT


def _check_header(reader: Iterator[list[str]]) -> bool:
    """Refuse a header that is not ours; True when it has the optional position column."""
    try:
        header = next(reader)
    except StopIteration:
        raise InvalidInput("Die Datei ist leer.") from None
    except csv.Error as error:
        raise InvalidInput(f"Zeile 1: Kopfzeile nicht lesbar ({error}).") from None
    names = tuple(cell.strip().lower().lstrip("\ufeff") for cell in header)
    with_position = names == (*HEADER, POSITION)
    if names != HEADER and not with_position:
        raise InvalidInput(
            "Zeile 1: Kopfzeile muss „"
            + ";".join(HEADER)
            + f"“ (optional mit „;{POSITION}“) lauten, ist aber „{';'.join(header)}“."
        )
    return with_position


def read_rows(
    lines: Iterable[str],
) -> Iterator[tuple[int, FivRow | RowProblem | OtherPosition]]:
    """Check the header, then yield each data row or its problem with the file's line number."""
    reader = csv.reader(lines, delimiter=";")
    with_position = _check_header(reader)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield reader.line_num, RowProblem(reader.line_num, f"nicht lesbar ({error})")
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if with_position:
            if len(cells) != len(HEADER) + 1:
                problem = f"{len(cells)} statt {len(HEADER) + 1} Spalten (Trennzeichen ist „;“)"
                yield reader.line_num, RowProblem(reader.line_num, problem)
                continue
            if not is_firmenkonzept(cells[-1]):
                yield reader.line_num, OtherPosition(reader.line_num)
                continue
            cells = cells[: len(HEADER)]
        try:
            yield reader.line_num, parse_row(cells)
        except ValueError as error:
            yield reader.line_num, RowProblem(reader.line_num, str(error))


async def _stage(session: AsyncSession, batch: list[FivRow]) -> None:
    if dialect_name(session) == "postgresql":
        await session.execute(
            _STAGE_ARRAYS,
            {
                "broker_number": [row.broker_number for row in batch],
                "year": [row.year for row in batch],
                "product": [row.product for row in batch],
                "access_type": [row.access_type for row in batch],
                "premium_cents": [row.premium_cents for row in batch],
            },
        )
        return
    await session.execute(
        _STAGE_ROWS,
        [
            {
                "broker_number": row.broker_number,
                "year": row.year,
                "product": row.product,
                "access_type": row.access_type,
                "premium_cents": row.premium_cents,
            }
            for row in batch
        ],
    )


async def _publish(session: AsyncSession) -> None:
    if dialect_name(session) == "postgresql":
        # Fresh rows have no statistics; the planner would guess a tiny table.
        await session.execute(text("ANALYZE fiv_staging"))
    await session.execute(text(_REPLACE_PAIRS))
    await session.execute(text(_PUBLISH))


def _problem_report(problems: list[RowProblem], total: int) -> str:
    listed = "\n".join(str(problem) for problem in problems[:MAX_LISTED_PROBLEMS])
    more = total - min(total, MAX_LISTED_PROBLEMS)
    return listed + (f"\n… und {more} weitere fehlerhafte Zeilen." if more else "")


async def import_fiv(
    session: AsyncSession, lines: Iterable[str], *, skip_invalid: bool = False
) -> FivImportResult:
    """Import FIV figures (``vermittlernummer;jahr;sparte;zugangsart;beitrag[;position]``).

    Rows whose position is not FirmenKonzept are left out and counted (B1).

    All or nothing by default: any bad row raises InvalidInput listing the bad lines, and the
    caller's transaction stays untouched. With ``skip_invalid`` the good rows are imported
    and the bad ones come back in ``result.skipped``.
    """
    result = FivImportResult()
    seen: set[tuple[str, int]] = set()
    batch: list[FivRow] = []
    problem_count = 0
    await session.execute(text(_CREATE_STAGING))
    try:
        for _line, parsed in read_rows(lines):
            if isinstance(parsed, OtherPosition):
                result.ignored_positions += 1
                continue
            if isinstance(parsed, RowProblem):
                problem_count += 1
                if len(result.skipped) < MAX_LISTED_PROBLEMS:
                    result.skipped.append(parsed)
                continue
            # Once the file is known to be refused, keep reading only to report every bad line.
            if problem_count and not skip_invalid:
                continue
            batch.append(parsed)
            seen.add((parsed.broker_number, parsed.year))
            if len(batch) >= BATCH_SIZE:
                await _stage(session, batch)
                result.imported += len(batch)
                batch.clear()
        if problem_count and not skip_invalid:
            raise InvalidInput(
                f"Import abgebrochen, nichts übernommen (fehlerhafte Zeilen: {problem_count}):\n"
                + _problem_report(result.skipped, problem_count)
            )
        if batch:
            await _stage(session, batch)
            result.imported += len(batch)
        await _publish(session)
        await session.execute(text(_DROP_STAGING))
        result.pairs = len(seen)
        result.years = {year for _number, year in seen}
        result.skipped_total = problem_count
    except (InvalidInput, ValueError, OSError):
        # Bad input, an undecodable byte or an unreadable file leave the transaction usable:
        # the caller may go on in it (and import again), so leave no table behind.
        await session.execute(text(_DROP_STAGING))
        raise
    return result


def _reporting(lines: Iterable[str], progress: Progress, every: int = 10_000) -> Iterator[str]:
    """Pass ``lines`` through and report the bytes read every ``every`` lines: a callback
    per line would cost more than the import's own work on it."""
    pending = count = 0
    for line in lines:
        pending += len(line.encode("utf-8"))
        count += 1
        if count == every:
            progress(pending)
            pending = count = 0
        yield line
    if pending:
        progress(pending)


async def import_fiv_file(
    session: AsyncSession,
    path: Path,
    *,
    skip_invalid: bool = False,
    progress: Progress | None = None,
) -> FivImportResult:
    """``progress(bytes)`` is called as the file is read (of ``path.stat().st_size``).

    On PostgreSQL a file is first tried with COPY and checks in SQL (store.fiv_copy); only a
    file with a row that those checks do not pass is read row by row in Python, which names
    every bad line. Either way the result and the stored figures are the same.
    """
    if dialect_name(session) == "postgresql":
        # Imported here: store.fiv_copy builds on this module's header check and result.
        from store.fiv_copy import import_by_copy

        copied = await import_by_copy(session, path, progress)
        if copied is not None:
            return copied
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            lines = stream if progress is None else _reporting(stream, progress)
            return await import_fiv(session, lines, skip_invalid=skip_invalid)
    except UnicodeDecodeError as error:
        raise InvalidInput(
            f"Die Datei ist nicht UTF-8-kodiert (Byte {error.start}). Bitte als UTF-8 exportieren."
        ) from None
    except OSError as error:
        raise InvalidInput(
            f"Die Datei {path} kann nicht gelesen werden: {error.strerror}."
        ) from None
