from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base


class JobRun(Base):
    """A scheduled job done for a period; the primary key makes "once per period" hold."""

    __tablename__ = "job_runs"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    period: Mapped[str] = mapped_column(String(64), primary_key=True)
    ran_at: Mapped[datetime]
