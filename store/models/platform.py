"""Events from the broker platform, stored once by their id."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base


class PlatformEvent(Base):
    """An event from the broker platform, applied once: the primary key is the event id.

    The row and the event's effect commit in one transaction, and the answer given is kept
    with it, so a repeat (a retry, or a copy arriving on another replica at the same moment)
    gets the first answer and causes nothing.
    """

    __tablename__ = "platform_events"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    type: Mapped[str] = mapped_column(String(40))
    http_status: Mapped[int]
    answer: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime]
