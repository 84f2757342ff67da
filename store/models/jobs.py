"""Bookkeeping of scheduled runs, so each one happens once (job_runs, budget notice runs)."""

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


class BudgetNoticeRun(Base):
    """The notices of one year's budget distribution, queued in batches after the bookings.

    Written in the distribution's own transaction, so committed bookings always get their
    notices, even across a crash; ``queued_through`` is the last ledger entry whose notices are
    in the outbox and moves in the same transaction as they do, so each is queued once.
    """

    __tablename__ = "budget_notice_runs"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_ledger_id: Mapped[int]
    queued_through: Mapped[int]
    created_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
