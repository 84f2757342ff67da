"""The FIV import behind the budget (rule B1): German amounts, line numbers, replacing."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import transaction
from store.errors import InvalidInput
from store.fiv import import_fiv, parse_german_amount
from store.models import FivFigure
from tests.scheduler.conftest import import_rows


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
    with pytest.raises(InvalidInput):
        await import_rows(sessions, "4711;2025;sach;1;9.000,00", "4711;2025;sach;1;x")
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
    assert len(stored) == 50
    assert sum(row[4] for row in stored) == sum(range(1, 51)) * 100


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
