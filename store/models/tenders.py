"""Consultations, product lines, tenders and offers; the frozen risk of rule T3 is guarded here."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from store.errors import RiskFrozen
from store.models.base import Base, CreatedAt
from store.models.status import TenderStatus


class Consultation(CreatedAt, Base):
    """A Beratung: one customer, several product lines (Sparten)."""

    __tablename__ = "consultations"

    id: Mapped[int] = mapped_column(primary_key=True)
    broker_id: Mapped[int] = mapped_column(ForeignKey("brokers.id"), index=True)
    customer_name: Mapped[str] = mapped_column(String(200))
    # The platform's id of the consultation (``beratung=…``, calculator.offer events).
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)

    product_lines: Mapped[list[ProductLine]] = relationship(
        back_populates="consultation", order_by="ProductLine.id"
    )


class ProductLine(CreatedAt, Base):
    __tablename__ = "product_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    consultation_id: Mapped[int] = mapped_column(ForeignKey("consultations.id"), index=True)
    product: Mapped[str] = mapped_column(String(40))
    # rule T6: set once a tender exists for the line; calculator offers are frozen from then on.
    recalculation_locked: Mapped[bool] = mapped_column(default=False)

    consultation: Mapped[Consultation] = relationship(back_populates="product_lines")
    offers: Mapped[list[Offer]] = relationship(back_populates="product_line", order_by="Offer.id")


class ReferenceCounter(Base):
    """Last tender number handed out per year (`AS-<year>-<seq>`), bumped atomically."""

    __tablename__ = "reference_counters"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(default=0)


class Tender(CreatedAt, Base):
    """An Ausschreibung. The risk columns are frozen at start (rule T3)."""

    __tablename__ = "tenders"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    product_line_id: Mapped[int] = mapped_column(ForeignKey("product_lines.id"), index=True)
    broker_id: Mapped[int] = mapped_column(ForeignKey("brokers.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default=TenderStatus.OPEN, index=True)
    # rule T2: why more offers were requested although calculator offers exist.
    reason: Mapped[str | None] = mapped_column(Text)
    customer_name: Mapped[str] = mapped_column(String(200))
    risk: Mapped[dict[str, Any]] = mapped_column(JSON)
    previous_tender_id: Mapped[int | None] = mapped_column(ForeignKey("tenders.id"))
    selected_offer_id: Mapped[int | None] = mapped_column(
        ForeignKey("offers.id", use_alter=True, name="fk_tenders_selected_offer_id_offers")
    )
    closed_at: Mapped[datetime | None]

    product_line: Mapped[ProductLine] = relationship()
    offers: Mapped[list[Offer]] = relationship(
        back_populates="tender", foreign_keys="Offer.tender_id", order_by="Offer.id"
    )


class Offer(CreatedAt, Base):
    __tablename__ = "offers"

    id: Mapped[int] = mapped_column(primary_key=True)
    product_line_id: Mapped[int] = mapped_column(ForeignKey("product_lines.id"), index=True)
    tender_id: Mapped[int | None] = mapped_column(ForeignKey("tenders.id"), index=True)
    # rule T7: "tender" offers are shown apart from "calculator" offers.
    source: Mapped[str] = mapped_column(String(20))
    insurer: Mapped[str] = mapped_column(String(200))
    premium_cents: Mapped[int]
    valid_until: Mapped[date | None] = mapped_column(index=True)
    added_by: Mapped[str | None] = mapped_column(String(32))
    # The tariff calculator's id of a calculator offer: the same id again recalculates it.
    external_id: Mapped[str | None] = mapped_column(String(64))

    product_line: Mapped[ProductLine] = relationship(back_populates="offers")
    tender: Mapped[Tender | None] = relationship(back_populates="offers", foreign_keys=[tender_id])

    __table_args__ = (
        UniqueConstraint("tender_id", "insurer", "premium_cents", "valid_until"),
        UniqueConstraint("product_line_id", "external_id"),
    )


# -- rule T3: no update path for the frozen risk -------------------------------------------
# Registered with the model, so it guards every session that can load a tender, whichever
# modules a process imported.

FROZEN_COLUMNS = ("risk", "customer_name", "product_line_id", "broker_id", "reference")


@event.listens_for(Session, "before_flush")
def _refuse_risk_changes(session: Session, _context: Any, _instances: Any) -> None:
    for instance in session.dirty:
        if not isinstance(instance, Tender):
            continue
        state = instance.__dict__.get("_sa_instance_state")
        if state is None:
            continue
        for column in FROZEN_COLUMNS:
            if state.attrs[column].history.has_changes():
                raise RiskFrozen(
                    "Die Risikodaten einer Ausschreibung können nach dem Start nicht mehr "
                    "geändert werden. Teilen Sie Änderungen dem Backoffice bitte als "
                    "Nachricht mit."
                )
