"""Writing notifications: rows in the same transaction as the event that causes them.

`notifications/` reads and sends these rows; nothing here talks to SMTP or Slack.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.dialect import insert_ignoring_conflicts
from store.models import Broker, OutboxRow
from store.types import utcnow

MESSAGE_ID_DOMAIN = "tenderbot"
OUTBOX: Table = OutboxRow.__table__  # type: ignore[assignment]


def new_message_id() -> str:
    return f"<{uuid.uuid4().hex}@{MESSAGE_ID_DOMAIN}>"


def _row(
    channel: str,
    recipient: str,
    template: str,
    context: dict[str, Any],
    dedupe_key: str | None,
    due: datetime | None,
) -> dict[str, Any]:
    now = utcnow()
    return {
        "channel": channel,
        "recipient": recipient,
        "template": template,
        "context": context,
        "message_id": new_message_id(),
        "dedupe_key": dedupe_key,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": due or now,
        "created_at": now,
    }


async def enqueue(
    session: AsyncSession,
    *,
    channel: str,
    recipient: str,
    template: str,
    context: dict[str, Any],
    dedupe_key: str | None = None,
    due: datetime | None = None,
) -> int | None:
    """Queue one notification for one recipient.

    With a ``dedupe_key`` a second enqueue of the same key (a restart, another replica) is a
    no-op and returns None, which is how "remind once" holds without a lock.
    """
    values = _row(channel, recipient, template, context, dedupe_key, due)
    # A Core insert of the row as an execute parameter: the compiled statement is cached and
    # the ORM's bulk-insert machinery, built for many rows, is skipped for this one.
    statement = insert_ignoring_conflicts(session, OUTBOX, returning=OUTBOX.c.id)
    row_id: int | None = (await session.execute(statement, values)).scalar()
    return row_id


async def enqueue_for_broker(
    session: AsyncSession,
    broker: Broker,
    template: str,
    context: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    slack: bool = True,
) -> list[int]:
    """One row per recipient: the broker's address, each CC address and the Slack DM,
    as far as the broker has not switched that channel off (rules N1, N2). ``slack=False``
    leaves out the DM where the event already shows in Slack by itself.

    All rows go in one multi-row ``INSERT … ON CONFLICT DO NOTHING``; a recipient whose
    dedupe key is already queued is skipped as with ``enqueue``. Returns the new rows' ids.
    """
    targets: list[tuple[str, str]] = []
    if broker.notify_email:
        targets.append(("email", broker.email))
        targets.extend(("email", cc) for cc in broker.cc_emails)
    if broker.notify_slack and slack:
        targets.append(("slack", broker.slack_user_id))
    if not targets:
        return []
    full_context = {**context, "broker_name": broker.name, "broker_number": broker.number}
    rows = [
        _row(
            channel,
            recipient,
            template,
            full_context,
            f"{dedupe_key}:{channel}:{recipient}" if dedupe_key else None,
            None,
        )
        for channel, recipient in targets
    ]
    # Rows as execute parameters, not in .values(): SQLAlchemy renders them into one
    # multi-row INSERT either way, but only this form has a cached statement.
    statement = insert_ignoring_conflicts(session, OutboxRow, returning=OutboxRow.id)
    # Ids grow with insertion order, so sorting gives the recipients' order as before.
    return sorted(await session.scalars(statement, rows))


async def pending_rows(session: AsyncSession, limit: int = 100) -> list[OutboxRow]:
    rows = await session.scalars(
        select(OutboxRow).where(OutboxRow.status != "sent").order_by(OutboxRow.id).limit(limit)
    )
    return list(rows)
