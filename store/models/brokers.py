"""The broker table: Slack user, broker number, e-mail and notice preferences."""

from __future__ import annotations

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, CreatedAt


class Broker(CreatedAt, Base):
    """A Vermittler: the Slack user, the broker number and where system e-mails go."""

    __tablename__ = "brokers"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    slack_user_id: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    cc_emails: Mapped[list[str]] = mapped_column(JSON, default=list)
    notify_email: Mapped[bool] = mapped_column(default=True)
    notify_slack: Mapped[bool] = mapped_column(default=True)
