"""The one durable queue's table: every outgoing side effect is a row here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, CreatedAt
from store.models.status import QueueStatus


class QueueRow(CreatedAt, Base):
    """One side effect (an e-mail, a Slack DM, a card, a thread post …), written in the
    transaction that caused it and delivered by whichever worker claims it first."""

    __tablename__ = "queue"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Which sender delivers it (QueueKind).
    kind: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(320))
    # The notice template, or for a Slack action what to do ("backoffice_card" …).
    template: Mapped[str] = mapped_column(String(64))
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Fixed at creation so a resend after a crash is recognisable as the same e-mail.
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    # Makes "remind once" hold across restarts and replicas.
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    # Rows with one key are delivered one after another in id order (a tender's thread).
    ordering_key: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(20), default=QueueStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    # The claim that holds the lease: only it may renew the lease or record the outcome.
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_queue_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_queue_ordering_key_status", "ordering_key", "status"),
        Index("ix_queue_lease_owner", "lease_owner"),
    )
