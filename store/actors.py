"""Who is acting: a broker (owns tenders) or a backoffice member (sees all)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from store.errors import AccessDenied, NotABroker
from store.models import Broker, Tender

Role = Literal["broker", "backoffice"]

NOT_YOURS = "Diese Ausschreibung gibt es nicht oder sie gehört nicht zu Ihren Ausschreibungen."
NOT_A_BROKER = (
    "Sie sind nicht als Vermittler bei tenderbot eingetragen. "
    "Bitte wenden Sie sich an Ihr Backoffice."
)


@dataclass(frozen=True)
class Actor:
    slack_user_id: str
    role: Role
    broker_id: int | None = None
    name: str = ""

    @property
    def is_backoffice(self) -> bool:
        return self.role == "backoffice"


async def resolve_actor(
    session: AsyncSession, slack_user_id: str, backoffice_users: Collection[str]
) -> Actor:
    """Backoffice membership comes from configuration; brokers from the brokers table."""
    if slack_user_id in backoffice_users:
        return Actor(slack_user_id=slack_user_id, role="backoffice")
    broker = await session.scalar(select(Broker).where(Broker.slack_user_id == slack_user_id))
    if broker is None:
        raise NotABroker(NOT_A_BROKER)
    return Actor(slack_user_id=slack_user_id, role="broker", broker_id=broker.id, name=broker.name)


def check_tender_access(actor: Actor, tender: Tender) -> None:
    """A broker sees only their own tenders; the refusal does not reveal that it exists."""
    if actor.is_backoffice:
        return
    if tender.broker_id != actor.broker_id:
        raise AccessDenied(NOT_YOURS)


def require_backoffice(actor: Actor, what: str) -> None:
    if not actor.is_backoffice:
        raise AccessDenied(f"{what} ist dem Backoffice vorbehalten.")
