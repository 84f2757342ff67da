"""Builders for store tests: actors and a ready tender."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.actors import Actor
from store.db import transaction
from store.models import Broker, Tender
from store.tender_input import RiskData, StartTender
from store.tenders import start_tender


def broker_actor(broker: Broker) -> Actor:
    return Actor(
        slack_user_id=broker.slack_user_id, role="broker", broker_id=broker.id, name=broker.name
    )


def start_request(**overrides: object) -> StartTender:
    fields: dict[str, object] = {
        "product": "haftpflicht",
        "customer_name": "Bäckerei Korn GmbH",
        "risk": RiskData(
            deductible=Decimal("500"),
            prior_claims="keine in den letzten 5 Jahren",
            description="Backstube mit Laden, 12 Mitarbeitende",
        ),
    }
    fields.update(overrides)
    return StartTender.model_validate(fields)


async def started_tender(
    sessions: async_sessionmaker[AsyncSession], broker: Broker, **overrides: object
) -> Tender:
    async with transaction(sessions) as session:
        return await start_tender(session, broker_actor(broker), start_request(**overrides))
