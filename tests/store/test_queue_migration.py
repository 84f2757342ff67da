"""The outbox's rows move into the one queue, unchanged, and back on a downgrade."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command

from store.migrate import alembic_config, upgrade

ROW = (
    "INSERT INTO outbox (id, channel, recipient, template, context, message_id, dedupe_key, "
    "status, attempts, next_attempt_at, created_at) VALUES (17, 'email', "
    "'anna@makler-adler.example', 'offer_available', '{\"reference\": \"AS-2026-0001\"}', "
    "'<m17@tenderbot>', 'offer:1', 'dead', 8, '2026-11-23 12:00:00.000000', "
    "'2026-11-23 11:00:00.000000')"
)


def test_it_moves_the_outbox_rows_into_the_queue_and_back(tmp_path: Path) -> None:
    path = tmp_path / "migrate.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0002")
    with sqlite3.connect(path) as connection:
        connection.execute(ROW)

    upgrade(url)
    with sqlite3.connect(path) as connection:
        moved = connection.execute(
            "SELECT id, kind, recipient, message_id, dedupe_key, status, attempts, ordering_key "
            "FROM queue"
        ).fetchall()
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
    command.downgrade(alembic_config(url), "0002")
    with sqlite3.connect(path) as connection:
        back = connection.execute("SELECT id, channel, message_id, status FROM outbox").fetchall()

    assert moved == [
        (17, "email", "anna@makler-adler.example", "<m17@tenderbot>", "offer:1", "dead", 8, None)
    ]
    assert "outbox" not in tables
    assert back == [(17, "email", "<m17@tenderbot>", "dead")]
