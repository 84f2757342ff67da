"""The FIV import behind the budget (rule B1): German amounts, line numbers, replacing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import store.fiv_copy
from store.db import transaction
from store.errors import InvalidInput
from store.fiv import FivImportResult, import_fiv, import_fiv_file, parse_german_amount
from store.fiv_copy import import_by_copy
from store.models import FivFigure
from tests.scheduler.conftest import HEADER, import_rows


async def figures(
    sessions: async_sessionmaker[AsyncSession],
) -> list[tuple[str, int, str, int, int]]:
    async with transaction(sessions) as session:
        rows = await session.execute(
            select(
                FivFigure.broker_number,
                FivFigure.year,
                FivFigure.product,
                FivFigure.access_type,
                FivFigure.premium_cents,
            ).order_by(FivFigure.broker_number, FivFigure.year, FivFigure.product)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "cents"),
    [
        ("1.234,56", 123456),
        ("1234,56", 123456),
        ("1.234.567,8", 123456780),
        ("0,01", 1),
        ("12", 1200),
        ("-12,50", -1250),
        (" 7,00 ", 700),
    ],
)
def test_it_reads_german_amounts_exactly(text: str, cents: int) -> None:
    assert parse_german_amount(text) == cents


@pytest.mark.parametrize("text", ["1,234.56", "12.34", "1.23,45", "12,345", "abc", "", "1e3"])
def test_it_refuses_amounts_that_are_not_german_notation(text: str) -> None:
    with pytest.raises(ValueError, match="kein Betrag"):
        parse_german_amount(text)


async def test_it_imports_nothing_and_names_every_bad_line(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(InvalidInput) as refused:
        await import_rows(
            sessions,
            "4711;2025;sach;1;1.000,00",
            "4711;25;sach;1;1.000,00",
            "4711;2025;sach;1;1,000.00",
            "",
            "4711;2025;sach;eins;5,00",
            "4711;2025;sach;1",
            "47 11;2025;sach;1;5,00",
        )

    message = refused.value.message_de
    assert message.startswith("Import abgebrochen, nichts übernommen (fehlerhafte Zeilen: 5)")
    assert "Zeile 3: Jahr „25“" in message
    assert "Zeile 4: Beitrag „1,000.00“" in message
    assert "Zeile 6: Zugangsart „eins“" in message
    assert "Zeile 7: 4 statt 5 Spalten" in message
    assert "Zeile 8: Vermittlernummer „47 11“" in message
    assert "Zeile 2" not in message
    assert await figures(sessions) == []


async def test_it_imports_the_good_rows_and_reports_the_skipped_ones(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    result = await import_rows(
        sessions,
        "4711;2025;sach;1;1.000,00",
        "4711;2025;sach;1;kaputt",
        "4712;2025;haftpflicht;2;2.500,50",
        skip_invalid=True,
    )

    assert result.imported == 2
    assert result.skipped_total == 1
    assert [str(problem) for problem in result.skipped] == [
        "Zeile 3: Beitrag „kaputt“ ist kein Betrag wie 1.234,56"
    ]
    assert await figures(sessions) == [
        ("4711", 2025, "sach", 1, 100000),
        ("4712", 2025, "haftpflicht", 2, 250050),
    ]


async def test_it_replaces_the_broker_year_pairs_of_a_reimport_and_keeps_the_rest(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    """Nothing is counted twice: Anna's 2025 figures are replaced, Carla's and 2024 stay."""
    await import_rows(
        sessions,
        "4711;2025;sach;1;1.000,00",
        "4711;2025;haftpflicht;1;2.000,00",
        "4711;2024;sach;1;3.000,00",
        "4712;2025;sach;1;4.000,00",
    )

    result = await import_rows(sessions, "4711;2025;sach;1;1.500,00")

    assert (result.imported, result.pairs, result.years) == (1, 1, {2025})
    assert await figures(sessions) == [
        ("4711", 2024, "sach", 1, 300000),
        ("4711", 2025, "sach", 1, 150000),
        ("4712", 2025, "sach", 1, 400000),
    ]


async def test_it_keeps_the_old_figures_when_a_reimport_is_refused(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await import_rows(sessions, "4711;2025;sach;1;1.000,00")
    with pytest.raises(InvalidInput) as refused:
        await import_rows(sessions, "4711;2025;sach;1;9.000,00", "4711;2025;sach;1;x")
    # The refusal names the bad line (the header is line 1) and the value at fault.
    assert "Zeile 3" in refused.value.message_de and "„x“" in refused.value.message_de
    assert await figures(sessions) == [("4711", 2025, "sach", 1, 100000)]


async def test_it_writes_large_files_in_batches_across_pairs(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pair spread over several batches is replaced once, never losing its earlier rows."""
    monkeypatch.setattr("store.fiv.BATCH_SIZE", 7)
    rows = [f"{4700 + i % 3};2025;sach;1;{i},00" for i in range(1, 51)]
    await import_rows(sessions, *rows)
    result = await import_rows(sessions, *rows)

    assert (result.imported, result.pairs) == (50, 3)
    stored = await figures(sessions)
    assert [row[0] for row in stored] == ["4700", "4701", "4702"]
    assert sum(row[4] for row in stored) == sum(range(1, 51)) * 100
    assert await contracts(sessions) == {("4700", 2025): 16, ("4701", 2025): 17, ("4702", 2025): 17}


async def test_it_refuses_a_file_with_the_wrong_header(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        with pytest.raises(InvalidInput, match="Zeile 1: Kopfzeile muss"):
            await import_fiv(session, ["nummer,jahr,betrag\n", "4711,2025,1\n"])
        with pytest.raises(InvalidInput, match="leer"):
            await import_fiv(session, [])


async def test_it_accepts_a_byte_order_mark_and_blank_lines(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessions) as session:
        result = await import_fiv(
            session,
            [
                "\ufeffVermittlernummer;Jahr;Sparte;Zugangsart;Beitrag\n",
                "\n",
                "4711;2025;sach;1;1,00\n",
            ],
        )
    assert result.imported == 1


async def contracts(sessions: async_sessionmaker[AsyncSession]) -> dict[tuple[str, int], int]:
    """How many contracts the stored figures of each (broker, year) pair sum."""
    async with transaction(sessions) as session:
        rows = await session.execute(
            select(FivFigure.broker_number, FivFigure.year, func.sum(FivFigure.contracts)).group_by(
                FivFigure.broker_number, FivFigure.year
            )
        )
        return {(number, year): int(count) for number, year, count in rows}


SAME_GROUP = (
    "4711;2025;sach;1;1.000,00",
    "4711;2025;sach;1;250,50",
    "4711;2025;sach;2;99,00",
    "4711;2025;sach;001;0,50",
)


async def test_it_sums_the_contracts_of_a_broker_year_product_and_access_type(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """B1 needs Anna's sums; a row per contract is not kept, the count of contracts is."""
    by_rows = await import_rows(sessions, *SAME_GROUP)
    expected = [("4711", 2025, "sach", 1, 125100), ("4711", 2025, "sach", 2, 9900)]

    assert await figures(sessions) == expected
    assert await contracts(sessions) == {("4711", 2025): 4}
    assert (by_rows.imported, by_rows.pairs) == (4, 1)

    from_file = await import_file(sessions, tmp_path, *SAME_GROUP)

    assert await figures(sessions) == expected
    assert await contracts(sessions) == {("4711", 2025): 4}
    assert (from_file.imported, from_file.pairs) == (4, 1)


GOOD_ROWS = (
    "4711;2025;sach;1;1.234,56",
    " 4712 ; 2024 ;Haftpflicht ; 2 ; -12,5 ",
    '"AB-9";2025;"sach;inhalt";001;0,01',
    "4711;2025;Cyber (Premium);1;1.234.567,8",
    "4713;1990;rs;0;12",
)


async def import_file(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, *lines: str
) -> FivImportResult:
    path = tmp_path / "fiv.csv"
    path.write_bytes(("\ufeff" + "\r\n".join([HEADER, *lines]) + "\r\n").encode("utf-8"))
    async with transaction(sessions) as session:
        return await import_fiv_file(session, path)


async def test_it_stores_the_same_figures_from_a_file_as_row_by_row(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    # On PostgreSQL a file of good rows goes through COPY and checks in SQL (store.fiv_copy).
    by_rows = await import_rows(sessions, *GOOD_ROWS)
    expected = await figures(sessions)

    from_file = await import_file(sessions, tmp_path, *GOOD_ROWS)

    assert await figures(sessions) == expected  # replaced, not added: each pair is in the file
    assert (from_file.imported, from_file.pairs, from_file.years) == (
        by_rows.imported,
        by_rows.pairs,
        by_rows.years,
    )
    assert ("AB-9", 2025, "sach;inhalt", 1, 1) in expected


TIDY_ROWS = (
    "4711;2025;sach;1;1.234,56",
    "4712;2024;Haftpflicht;2;-12,5",
    "AB-9;2025;Gebäude-Inhalt;001;0,01",
    "4711;2025;Cyber (Premium);1;999.999,8",
    "4711;2025;rs;1;9999999,99",
    "4713;1990;rs;0;12",
)


@pytest.mark.postgres_only
async def test_it_checks_a_tidy_file_per_distinct_value_and_stores_the_same_figures(
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    by_rows = await import_rows(sessions, *TIDY_ROWS, "4714;2025;sach;1;5,00")
    expected = [row for row in await figures(sessions) if row[0] != "4714"]
    await import_rows(sessions, "4714;2025;sach;1;5,00", "4711;2023;sach;1;7,00")
    kept = await figures(sessions)

    async def sum_checked(session: AsyncSession, copied: int) -> None:
        raise AssertionError("a tidy file needs no per-row checks in SQL")

    monkeypatch.setattr(store.fiv_copy, "_sum_checked", sum_checked)

    from_file = await import_file(sessions, tmp_path, *TIDY_ROWS)

    stored = await figures(sessions)
    assert [row for row in stored if row[:2] not in {("4714", 2025), ("4711", 2023)}] == expected
    assert [row for row in kept if row[:2] in {("4714", 2025), ("4711", 2023)}] == [
        row for row in stored if row[:2] in {("4714", 2025), ("4711", 2023)}
    ]
    assert (from_file.imported, from_file.pairs, from_file.years) == (
        by_rows.imported - 1,
        by_rows.pairs - 1,
        by_rows.years,
    )


def tidy_amount(cents: int) -> str:
    """German notation with two, one or no decimals, thousands dots or none."""
    euros, rest = divmod(abs(cents), 100)
    sign = "-" if cents < 0 else ""
    whole = f"{euros:,}".replace(",", ".") if euros % 2 and euros < 1_000_000 else str(euros)
    if rest % 10 == 0 and cents % 3 == 0:
        return f"{sign}{whole}" + ("" if rest == 0 else f",{rest // 10}")
    return f"{sign}{whole},{rest:02d}"


@pytest.mark.postgres_only
async def test_it_converts_every_tidy_amount_to_the_cents_python_reads(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def sum_checked(session: AsyncSession, copied: int) -> None:
        raise AssertionError("a tidy file needs no per-row checks in SQL")

    monkeypatch.setattr(store.fiv_copy, "_sum_checked", sum_checked)
    cents = [
        *range(-1000, 1000),
        *range(99_999_000, 100_000_000, 7),
        *range(-99_999_999, -99_998_000, 3),
        *(value * 100 + 29 for value in range(0, 9_999_999, 49_999)),
    ]
    amounts = [tidy_amount(value) for value in cents]
    rows = [f"T{index};2025;sach;1;{amount}" for index, amount in enumerate(amounts)]

    await import_file(sessions, tmp_path, *rows)

    stored = {row[0]: row[4] for row in await figures(sessions)}
    assert [stored[f"T{index}"] for index in range(len(rows))] == [
        parse_german_amount(amount) for amount in amounts
    ]
    assert [parse_german_amount(amount) for amount in amounts] == cents


@pytest.mark.postgres_only
@pytest.mark.parametrize(
    "untidy",
    [
        "4712 ;2024;sach;1;1,00",
        "4712;2024;sach;1;12.345.678,00",
        "4712;2024;sach;1;1.234.567,80",
        "4712;2024;sach;1; 1,00",
        '"AB-9";2025;"sach;inhalt";001;0,01',
        "4712;2024;sach ;1;1,00",
    ],
)
async def test_it_checks_an_untidy_file_row_by_row_in_sql(
    sessions: async_sessionmaker[AsyncSession],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    untidy: str,
) -> None:
    by_rows = await import_rows(sessions, TIDY_ROWS[0], untidy)
    expected = await figures(sessions)
    checked: list[int] = []
    original = store.fiv_copy._sum_checked

    async def sum_checked(session: AsyncSession, copied: int) -> None:
        checked.append(copied)
        await original(session, copied)

    monkeypatch.setattr(store.fiv_copy, "_sum_checked", sum_checked)
    path = tmp_path / "fiv.csv"
    path.write_text("\n".join([HEADER, TIDY_ROWS[0], untidy]) + "\n", encoding="utf-8")
    async with transaction(sessions) as session:
        copied = await import_by_copy(session, path, None)

    assert copied is not None and copied.imported == by_rows.imported
    assert checked == [2]  # a cell with blanks or a large amount is not tidy
    assert await figures(sessions) == expected


@pytest.mark.postgres_only
async def test_it_sums_a_file_again_with_checks_when_a_cell_does_not_convert(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a tidy verdict does not let a cell the sums cannot convert through: the file
    goes the checked way and then row by row, which names the line."""
    monkeypatch.setattr(store.fiv_copy, "_is_tidy", lambda *_arguments: True)

    with pytest.raises(InvalidInput, match="Zeile 3: Beitrag „kaputt“"):
        await import_file(sessions, tmp_path, GOOD_ROWS[0], "4711;2025;sach;1;kaputt")

    assert await figures(sessions) == []


def test_it_judges_a_file_tidy_however_it_is_cut_into_chunks() -> None:
    for rows, tidy in ((TIDY_ROWS, True), ((*TIDY_ROWS[:2], "4712;2024;sach;1;1.0,00"), False)):
        body = "\r\n".join(rows).encode("utf-8")  # the last line without its line break
        for cut in range(len(body) + 1):
            check = store.fiv_copy._TidyCheck()
            check.feed(body[:cut])
            check.feed(body[cut:])
            assert check.finish() is tidy, (cut, tidy)


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("4711;2025;sach;1;1.000.00", "Zeile 3: Beitrag „1.000.00“ ist kein Betrag"),
        ("4711;2025;sach;1", "Zeile 3: 4 statt 5 Spalten"),
        ("4711;25;sach;1;1,00", "Zeile 3: Jahr „25“"),
        ("4711;2025;sach;1;99.999.999,00", "Zeile 3: Beitrag „99.999.999,00“ ist zu groß"),
    ],
)
async def test_it_names_the_bad_line_of_a_file_and_imports_nothing(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path, bad: str, reason: str
) -> None:
    with pytest.raises(InvalidInput, match=reason):
        await import_file(sessions, tmp_path, GOOD_ROWS[0], bad)

    assert await figures(sessions) == []


@pytest.mark.postgres_only
async def test_it_copies_a_file_of_good_rows_without_reading_them_in_python(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path = tmp_path / "fiv.csv"
    path.write_text("\n".join([HEADER, *GOOD_ROWS]) + "\n", encoding="utf-8")
    read: list[int] = []
    async with transaction(sessions) as session:
        copied = await import_by_copy(session, path, read.append)

    assert copied is not None and copied.imported == len(GOOD_ROWS)
    assert sum(read) == path.stat().st_size
    path.write_text("\n".join([HEADER, GOOD_ROWS[0], "4711;2025;sach;1;1.000.00"]) + "\n")
    async with transaction(sessions) as session:
        assert await import_by_copy(session, path, None) is None


async def test_it_counts_only_firmenkonzept_rows_when_the_file_names_positions(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # rule B1: only FirmenKonzept new business is the base of the budget.
    text = "\n".join(
        [
            "vermittlernummer;jahr;sparte;zugangsart;beitrag;position",
            "4711;2025;sach;1;1.000,00;FirmenKonzept",
            "4711;2025;haft;1;500,00;Privat",
            "4711;2025;rs;1;300,00;firmen-konzept",
            "4711;2025;kfz;1;800,00;",
            "",
        ]
    )
    async with transaction(sessions) as session:
        result = await import_fiv(session, text.splitlines(keepends=True))

    assert (result.imported, result.ignored_positions) == (2, 2)
    assert await figures(sessions) == [
        ("4711", 2025, "rs", 1, 30000),
        ("4711", 2025, "sach", 1, 100000),
    ]


async def test_it_names_a_row_without_its_position_when_the_header_has_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    text = "vermittlernummer;jahr;sparte;zugangsart;beitrag;position\n4711;2025;sach;1;1.000,00\n"
    with pytest.raises(InvalidInput, match="Zeile 2: 5 statt 6 Spalten"):
        async with transaction(sessions) as session:
            await import_fiv(session, text.splitlines(keepends=True))
