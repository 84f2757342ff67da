"""fivspeed_1 sums the stored FIV contracts into one figure per broker, year, product and
access type; every budget (B1) comes out as before."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command

from store.migrate import alembic_config, upgrade

CONTRACTS = [
    # broker, year, product, access type, cents
    ("4711", 2025, "sach", 1, 100000),
    ("4711", 2025, "sach", 1, 25050),
    ("4711", 2025, "sach", 2, 9900),
    ("4711", 2025, "haftpflicht", 1, 5000),
    ("4711", 2024, "sach", 1, 300000),
    ("4712", 2025, "sach", 1, -1250),
    ("4712", 2025, "sach", 1, 400000),
]


def test_it_sums_the_stored_contracts_into_figures_and_back(tmp_path: Path) -> None:
    path = tmp_path / "migrate.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "messages_lease_1")
    with sqlite3.connect(path) as connection:
        connection.executemany(
            "INSERT INTO fiv_figures (broker_number, year, product, access_type, premium_cents) "
            "VALUES (?, ?, ?, ?, ?)",
            CONTRACTS,
        )

    upgrade(url, "fivspeed_1")
    with sqlite3.connect(path) as connection:
        figures = connection.execute(
            "SELECT broker_number, year, product, access_type, premium_cents, contracts "
            "FROM fiv_figures ORDER BY broker_number, year, product, access_type"
        ).fetchall()

    assert figures == [
        ("4711", 2024, "sach", 1, 300000, 1),
        ("4711", 2025, "haftpflicht", 1, 5000, 1),
        ("4711", 2025, "sach", 1, 125050, 2),
        ("4711", 2025, "sach", 2, 9900, 1),
        ("4712", 2025, "sach", 1, 398750, 2),
    ]

    command.downgrade(alembic_config(url), "messages_lease_1")
    with sqlite3.connect(path) as connection:
        back = connection.execute(
            "SELECT broker_number, year, product, access_type, premium_cents "
            "FROM fiv_figures ORDER BY id"
        ).fetchall()

    # One row per figure: the budget's sums stay, the single contracts do not come back.
    assert sorted(back) == [figure[:5] for figure in figures]
