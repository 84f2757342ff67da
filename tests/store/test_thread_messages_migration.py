"""Thread messages that still waited for Slack when the queue came (queue_1) get their queue
row, in the order written; the messages' own lease columns go later (messages_lease_1)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from alembic import command

from store.migrate import alembic_config, upgrade

WRITTEN = "'2026-11-23 11:00:00.000000'"


def _tender(connection: sqlite3.Connection, tender_id: int) -> None:
    connection.execute(
        "INSERT INTO consultations (id, broker_id, customer_name, created_at) "
        f"VALUES ({tender_id}, 1, 'Café Bohne', {WRITTEN})"
    )
    connection.execute(
        "INSERT INTO product_lines (id, consultation_id, product, recalculation_locked, "
        f"created_at) VALUES ({tender_id}, {tender_id}, 'sach', 0, {WRITTEN})"
    )
    connection.execute(
        "INSERT INTO tenders (id, reference, product_line_id, broker_id, status, "
        f"customer_name, risk, created_at) VALUES ({tender_id}, 'AS-2026-000{tender_id}', "
        f"{tender_id}, 1, 'open', 'Café Bohne', '{{}}', {WRITTEN})"
    )
    connection.execute(
        "INSERT INTO conversations (id, tender_id, created_at) "
        f"VALUES ({tender_id}, {tender_id}, {WRITTEN})"
    )


def _message(
    connection: sqlite3.Connection,
    message_id: int,
    tender_id: int,
    role: str,
    state: str,
    *,
    internal: bool = False,
) -> None:
    author = "U0BERND" if role == "backoffice" else "U0ANNA"
    connection.execute(
        "INSERT INTO messages (id, conversation_id, author_slack_id, author_name, role, body, "
        "internal, delivery_state, delivery_attempts, next_delivery_at, created_at) VALUES "
        f"({message_id}, {tender_id}, '{author}', '{author}', '{role}', 'Frage {message_id}', "
        f"{int(internal)}, '{state}', 3, {WRITTEN}, {WRITTEN})"
    )


def test_it_queues_the_thread_messages_still_waiting_for_slack(tmp_path: Path) -> None:
    path = tmp_path / "migrate.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "0002")
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO brokers (id, number, slack_user_id, name, email, cc_emails, "
            "notify_email, notify_slack, created_at) VALUES (1, '4711', 'U0ANNA', "
            f"'Anna Adler', 'anna@makler-adler.example', '[]', 1, 1, {WRITTEN})"
        )
        _tender(connection, 1)
        _tender(connection, 2)
        # Bernd asks twice in tender 1 (both still on their way to Anna), Anna answers in
        # tender 2 (on its way to the backoffice), an internal note goes to the backoffice
        # thread; the delivered message and the note that needs no mirror stay out.
        _message(connection, 10, 1, "backoffice", "pending")
        _message(connection, 11, 2, "broker", "pending")
        _message(connection, 12, 1, "backoffice", "delivered")
        _message(connection, 13, 1, "backoffice", "pending")
        _message(connection, 14, 2, "backoffice", "pending", internal=True)
        _message(connection, 15, 2, "backoffice", "not_needed", internal=True)

    upgrade(url, "queue_1")
    with sqlite3.connect(path) as connection:
        queued = connection.execute(
            "SELECT kind, recipient, template, context, ordering_key, status, attempts "
            "FROM queue ORDER BY id"
        ).fetchall()
        message_ids = [
            row[0] for row in connection.execute("SELECT message_id FROM queue ORDER BY id")
        ]

    # Each message's row names it and keeps the thread's order through its ordering key.
    assert [(row[1], json.loads(row[3]), row[4]) for row in queued] == [
        ("message:10", {"message_id": 10}, "tender:1:broker"),
        ("message:11", {"message_id": 11}, "tender:2:backoffice"),
        ("message:13", {"message_id": 13}, "tender:1:broker"),
        ("message:14", {"message_id": 14}, "tender:2:backoffice"),
    ]
    assert {(row[0], row[2], row[5], row[6]) for row in queued} == {
        ("thread", "sync_message", "pending", 0)
    }
    assert len(set(message_ids)) == len(message_ids)


def test_it_drops_the_messages_lease_columns_and_keeps_the_messages(tmp_path: Path) -> None:
    path = tmp_path / "migrate.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url, "platform_1")
    with sqlite3.connect(path) as connection:
        connection.execute(
            "INSERT INTO brokers (id, number, slack_user_id, name, email, cc_emails, "
            "notify_email, notify_slack, created_at) VALUES (1, '4711', 'U0ANNA', "
            f"'Anna Adler', 'anna@makler-adler.example', '[]', 1, 1, {WRITTEN})"
        )
        _tender(connection, 1)
        _message(connection, 10, 1, "backoffice", "delivered")

    upgrade(url)
    with sqlite3.connect(path) as connection:
        columns = {row[1] for row in connection.execute("PRAGMA table_info(messages)")}
        kept = connection.execute("SELECT id, body, delivery_state FROM messages").fetchall()
    command.downgrade(alembic_config(url), "platform_1")
    with sqlite3.connect(path) as connection:
        back = connection.execute(
            "SELECT id, delivery_attempts, next_delivery_at FROM messages"
        ).fetchall()

    assert {"next_delivery_at", "delivery_attempts"}.isdisjoint(columns)
    assert {"delivery_state", "last_delivery_error"} <= columns
    assert kept == [(10, "Frage 10", "delivered")]
    assert back == [(10, 0, None)]
