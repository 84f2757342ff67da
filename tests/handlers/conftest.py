"""In-memory tenders and offers for the builder tests: builders take data, not sessions."""

from __future__ import annotations

from datetime import date

import pytest

from store.models import Broker, Offer, ProductLine, Tender


def make_tender(status: str = "open", reason: str | None = None) -> Tender:
    return Tender(
        id=1,
        reference="AS-2026-0001",
        product_line=ProductLine(id=1, product="haftpflicht"),
        broker_id=1,
        status=status,
        reason=reason,
        customer_name="Bäckerei <Korn> & Söhne",
        risk={"deductible": "1000", "prior_claims": "keine", "description": "Backstube"},
        selected_offer_id=None,
    )


@pytest.fixture
def tender() -> Tender:
    return make_tender()


@pytest.fixture
def anna_broker() -> Broker:
    return Broker(id=1, name="Anna Adler", number="4711")


@pytest.fixture
def allianz() -> Offer:
    return Offer(
        id=7,
        source="tender",
        insurer="Allianz",
        premium_cents=123450,
        valid_until=date(2026, 12, 31),
    )


@pytest.fixture
def hdi_expired() -> Offer:
    return Offer(
        id=8, source="tender", insurer="HDI", premium_cents=99900, valid_until=date(2026, 11, 1)
    )


@pytest.fixture
def calculator_offer() -> Offer:
    return Offer(
        id=3, source="calculator", insurer="Tarifrechner AG", premium_cents=150000, valid_until=None
    )
