"""Writing notifications (e-mails and Slack notices) into the queue, in the same transaction
as the event that causes them.

`notifications/` renders and sends these rows; nothing here talks to SMTP or Slack.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from store.models import Broker, QueueKind
from store.queue import MESSAGE_ID_DOMAIN, enqueue_rows, new_message_id, row_values

__all__ = [
    "MESSAGE_ID_DOMAIN",
    "enqueue",
    "enqueue_for_broker",
    "new_message_id",
]


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
    """Queue one notification for one recipient; ``channel`` (``QueueKind.EMAIL`` or
    ``QueueKind.SLACK``) is the row's kind.

    With a ``dedupe_key`` a second enqueue of the same key (a restart, another replica) is a
    no-op and returns None, which is how "remind once" holds without a lock.
    """
    values = row_values(channel, recipient, template, context, dedupe_key=dedupe_key, due=due)
    ids = await enqueue_rows(session, [values])
    return ids[0] if ids else None


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
        targets.append((QueueKind.EMAIL, broker.email))
        targets.extend((QueueKind.EMAIL, cc) for cc in broker.cc_emails)
    if broker.notify_slack and slack:
        targets.append((QueueKind.SLACK, broker.slack_user_id))
    full_context = {**context, "broker_name": broker.name, "broker_number": broker.number}
    rows = [
        row_values(
            channel,
            recipient,
            template,
            full_context,
            dedupe_key=f"{dedupe_key}:{channel}:{recipient}" if dedupe_key else None,
        )
        for channel, recipient in targets
    ]
    return await enqueue_rows(session, rows)
