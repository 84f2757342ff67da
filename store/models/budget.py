"""Konzeptrabatt tables: accounts, the append-only ledger (B1–B5) and the FIV figures."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.models.base import Base, CreatedAt


class BudgetAccount(Base):
    """A broker's Konzeptrabatt account.

    ``balance_cents`` always equals the sum of the ledger; it is kept on the row so a charge
    can check and book in one conditional ``UPDATE`` and concurrent charges cannot overdraw.
    """

    __tablename__ = "budget_accounts"

    broker_id: Mapped[int] = mapped_column(ForeignKey("brokers.id"), primary_key=True)
    balance_cents: Mapped[int] = mapped_column(default=0)
    # rule P3: how far below zero the account may go.
    credit_limit_cents: Mapped[int] = mapped_column(default=0)


class LedgerEntry(CreatedAt, Base):
    """Append-only Konzeptrabatt ledger in integer cents (positive = credit)."""

    __tablename__ = "ledger_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    broker_id: Mapped[int] = mapped_column(ForeignKey("brokers.id"))
    amount_cents: Mapped[int]
    # What was booked (LedgerKind)
    kind: Mapped[str] = mapped_column(String(20))
    # policy number for charges and storno, the year for distributions
    reference: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(Text)
    # the tender (AS-…) the charged policy came from, when the platform names it
    tender_reference: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        Index("ix_ledger_entries_broker_id_id", "broker_id", "id"),
        UniqueConstraint("broker_id", "kind", "reference"),
    )


class FivFigure(Base):
    """A new-business figure from the FIV (one contract), the base of the yearly budget (B1)."""

    __tablename__ = "fiv_figures"

    id: Mapped[int] = mapped_column(primary_key=True)
    broker_number: Mapped[str] = mapped_column(String(32))
    year: Mapped[int]
    product: Mapped[str] = mapped_column(String(40))
    access_type: Mapped[int]  # Zugangsart; only 1 (new premium) counts
    premium_cents: Mapped[int]

    __table_args__ = (Index("ix_fiv_figures_year_broker", "year", "broker_number"),)
