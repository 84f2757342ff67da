"""Read models of tenders and offers: what lists, overviews, cards and reminders show.

Every read of one tender checks the actor's access (a broker sees only their own tenders).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import joinedload, selectinload

from store.actors import NOT_A_BROKER, NOT_YOURS, Actor, check_tender_access
from store.errors import AccessDenied, NotABroker, NotFound
from store.logcontext import bind
from store.models import Broker, Offer, ProductLine, Tender, TenderStatus


async def get_tender(session: AsyncSession, actor: Actor, reference: str) -> Tender:
    tender = await session.scalar(
        select(Tender)
        .where(Tender.reference == reference.strip().upper())
        .options(selectinload(Tender.offers), selectinload(Tender.product_line))
    )
    return _accessible(actor, reference, tender)


async def get_tender_without_offers(session: AsyncSession, actor: Actor, reference: str) -> Tender:
    """``get_tender`` for callers that never look at the offers: one statement, the product
    line joined, instead of a second round trip that loads every offer."""
    tender = await session.scalar(
        select(Tender)
        .where(Tender.reference == reference.strip().upper())
        .options(joinedload(Tender.product_line, innerjoin=True))
    )
    return _accessible(actor, reference, tender)


async def tender_for_card(session: AsyncSession, tender_id: int) -> tuple[Tender, Broker, int]:
    """The tender (product line joined), its broker and its offer count: what a card shows.

    For the queue's card sender, which acts for the system, not for a person."""
    tender = await session.scalar(
        select(Tender)
        .where(Tender.id == tender_id)
        .options(joinedload(Tender.product_line, innerjoin=True))
    )
    assert tender is not None  # the queue row was written with the tender
    return tender, await broker_of(session, tender), await count_tender_offers(session, tender_id)


def _accessible(actor: Actor, reference: str, tender: Tender | None) -> Tender:
    # Every later log line of this request names the tender it is about.
    bind(reference=reference.strip().upper())
    if tender is None:
        if actor.is_backoffice:
            raise NotFound(f"Eine Ausschreibung {reference} gibt es nicht.")
        raise AccessDenied(NOT_YOURS)
    check_tender_access(actor, tender)
    return tender


async def list_tenders(
    session: AsyncSession, actor: Actor, *, open_only: bool = False, limit: int = 50
) -> list[Tender]:
    # Many-to-one: joined in the same statement, one round trip instead of two.
    query = (
        select(Tender)
        .options(joinedload(Tender.product_line, innerjoin=True))
        .order_by(Tender.id.desc())
    )
    if not actor.is_backoffice:
        query = query.where(Tender.broker_id == actor.broker_id)
    if open_only:
        query = query.where(Tender.status == TenderStatus.OPEN)
    return list(await session.scalars(query.limit(limit)))


LIST_LIMIT = 50


@dataclass(frozen=True)
class TenderLine:
    """One tender as a list shows it."""

    reference: str
    product: str
    customer_name: str
    status: str


@dataclass(frozen=True)
class TenderList:
    """A broker's newest tenders, or for the backoffice every open one, newest first."""

    backoffice: bool
    tenders: list[TenderLine]


_LINE_COLUMNS = (Tender.reference, ProductLine.product, Tender.customer_name, Tender.status)
# Built once: the statements never change, only their parameters, so each request skips
# building them and SQLAlchemy finds their compiled form by a cache key it computed once.
# The broker's own row comes with the tenders (outer join): knowing who asks and what they
# may see is part of the one query, not a round trip before it.
_BROKER_TENDERS = (
    select(Broker.id, *_LINE_COLUMNS)
    .outerjoin(Tender, Tender.broker_id == Broker.id)
    .outerjoin(ProductLine, ProductLine.id == Tender.product_line_id)
    .where(Broker.slack_user_id == bindparam("slack_user_id"))
    .order_by(Tender.id.desc())
    .limit(LIST_LIMIT)
)
_OPEN_TENDERS = (
    select(*_LINE_COLUMNS)
    .join(ProductLine, ProductLine.id == Tender.product_line_id)
    .where(Tender.status == TenderStatus.OPEN)
    .order_by(Tender.id.desc())
    .limit(LIST_LIMIT)
)


async def tender_lines(
    sessions: async_sessionmaker[AsyncSession],
    slack_user_id: str,
    backoffice_users: Collection[str],
) -> TenderList:
    """``/ausschreibung liste`` in one statement on a pooled connection, no session.

    One SELECT is consistent on its own, so it runs in autocommit: no BEGIN before it and no
    ROLLBACK after it, one round trip in all. Raises NotABroker for a stranger.
    """
    engine: AsyncEngine = sessions.kw["bind"]
    backoffice = slack_user_id in backoffice_users
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        if backoffice:
            rows = (await connection.execute(_OPEN_TENDERS)).all()
            return TenderList(True, [TenderLine(*row) for row in rows])
        found = (await connection.execute(_BROKER_TENDERS, {"slack_user_id": slack_user_id})).all()
    if not found:
        raise NotABroker(NOT_A_BROKER)
    # A broker without tenders is one row of NULLs beside the broker's id.
    return TenderList(False, [TenderLine(*row[1:]) for row in found if row.reference is not None])


@dataclass(frozen=True)
class OfferOverview:
    """All offers of the tender's product line: calculator and tender offers (T2, T7)."""

    tender: Tender
    calculator: list[Offer]
    from_tender: list[Offer]


async def offer_overview(session: AsyncSession, actor: Actor, reference: str) -> OfferOverview:
    tender = await get_tender(session, actor, reference)
    offers = list(
        await session.scalars(
            select(Offer).where(Offer.product_line_id == tender.product_line_id).order_by(Offer.id)
        )
    )
    return OfferOverview(
        tender=tender,
        calculator=[offer for offer in offers if offer.source == "calculator"],
        from_tender=[offer for offer in offers if offer.tender_id == tender.id],
    )


@dataclass(frozen=True)
class OpenTenderSummary:
    tender: Tender
    offer_count: int  # offers from the tender (T7), not the calculator's


@dataclass(frozen=True)
class HomeSummary:
    """The actor's newest open tenders, and the newest offers on their product lines."""

    open_tenders: list[OpenTenderSummary]
    newest_offers: list[tuple[str, Offer]]  # (reference of the open tender, offer)


async def home_summary(session: AsyncSession, actor: Actor, limit: int) -> HomeSummary:
    """What ``offer_overview`` per open tender would give, in three queries for all of them.

    An open tender's offers are its own plus the calculator offers of its product line (T2,
    T7); a line has at most one open tender, so each offer belongs to one reference.
    """
    tenders = await list_tenders(session, actor, open_only=True, limit=limit)
    if not tenders:
        return HomeSummary(open_tenders=[], newest_offers=[])
    by_id = {tender.id: tender for tender in tenders}
    by_line = {tender.product_line_id: tender for tender in tenders}
    counted = await session.execute(
        select(Offer.tender_id, func.count())
        .where(Offer.tender_id.in_(by_id))
        .group_by(Offer.tender_id)
    )
    counts: dict[int | None, int] = {tender_id: count for tender_id, count in counted}
    offers = await session.scalars(
        select(Offer)
        .where(
            or_(
                Offer.tender_id.in_(by_id),
                and_(Offer.source == "calculator", Offer.product_line_id.in_(by_line)),
            )
        )
        .order_by(Offer.id.desc())
        .limit(limit)
    )
    newest = [
        (by_id[offer.tender_id] if offer.tender_id else by_line[offer.product_line_id], offer)
        for offer in offers
    ]
    return HomeSummary(
        open_tenders=[OpenTenderSummary(tender, counts.get(tender.id, 0)) for tender in tenders],
        newest_offers=[(tender.reference, offer) for tender, offer in newest],
    )


async def count_tender_offers(session: AsyncSession, tender_id: int) -> int:
    """Offers the backoffice added to this tender (T7), without the calculator's."""
    count = await session.scalar(
        select(func.count()).select_from(Offer).where(Offer.tender_id == tender_id)
    )
    return count or 0


async def broker_of(session: AsyncSession, tender: Tender) -> Broker:
    broker = await session.get(Broker, tender.broker_id)
    assert broker is not None  # foreign key
    return broker


async def expiring_offers(session: AsyncSession, today: date, within_days: int) -> list[Offer]:
    """Rule T10: tender offers running out soon on tenders where nothing was selected."""
    query = (
        select(Offer)
        .join(Tender, Offer.tender_id == Tender.id)
        .where(
            Tender.status == TenderStatus.OPEN,
            Offer.valid_until >= today,
            Offer.valid_until <= today + timedelta(days=within_days),
        )
        .options(selectinload(Offer.tender))
        .order_by(Offer.valid_until, Offer.id)
    )
    return list(await session.scalars(query))
