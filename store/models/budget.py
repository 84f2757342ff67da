"""Konzeptrabatt tables: accounts, the append-only ledger (B1–B5) and the FIV figures."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
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
    """FIV new business of one broker, year, product (Sparte) and access type (Zugangsart):
    the sum of its contracts' premiums, the base of the yearly budget (B1).

    B1 asks for a broker's sum per year and access type, and nothing reads a single contract,
    so an import stores one row per group instead of one per contract: a million-contract
    export becomes as many rows as there are broker, product and access type combinations,
    written without a surrogate key or a second index. ``contracts`` keeps how many rows of
    the file a figure sums.
    """

    __tablename__ = "fiv_figures"

    # The key leads with (year, broker_number): the budget reads one year, and a re-import
    # replaces a (year, broker) pair's figures.
    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    broker_number: Mapped[str] = mapped_column(String(32), primary_key=True)
    product: Mapped[str] = mapped_column(String(40), primary_key=True)
    # Zugangsart; only 1 (new premium) counts
    access_type: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # A sum of contracts whose premiums each fit 32 bits: 64 bits.
    premium_cents: Mapped[int] = mapped_column(BigInteger)
    contracts: Mapped[int]
