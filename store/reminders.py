"""Which reminders are due: offers running out (rule T10) and tenders still without an offer
(rule T9). Each reminder is an outbox row with a dedupe key, so it goes out once however
often the scheduler runs, restarts or runs on several replicas."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.advice import expiry_advice
from store.models import (
    Broker,
    Conversation,
    Offer,
    ProductLine,
    QueueKind,
    Tender,
    TenderStatus,
)
from store.money import from_cents
from store.outbox import enqueue, enqueue_for_broker
from store.products import product_label

EXPIRY_TEMPLATE = "offer_expiring"
FOLLOWUP_TEMPLATE = "backoffice_followup"


def reached_lead(days_left: int, lead_days: Sequence[int]) -> int | None:
    """The most urgent lead time already reached, or None.

    Taking the smallest reached lead means a scheduler that was down on the 7-days day and
    comes back 1 day before expiry sends the 1-day reminder, not a stale 7-day one as well.
    """
    if days_left < 0:
        return None
    reached = [lead for lead in lead_days if days_left <= lead]
    return min(reached) if reached else None


@dataclass(frozen=True)
class ReminderResult:
    offers: int  # offers with a reminder newly queued
    rows: int  # outbox rows written (one per recipient)


async def remind_expiring_offers(
    session: AsyncSession,
    today: date,
    lead_days: Sequence[int],
    *,
    contact: str | None = None,
) -> ReminderResult:
    """Rule T10: remind the broker before a tender offer runs out, if nothing was selected.

    ``today`` is the local (Europe/Berlin) date; dedupe key ``expiry:<offer>:<lead>``.
    ``contact`` is the start page's contact details, advised where no module is open.
    """
    if not lead_days:
        return ReminderResult(offers=0, rows=0)
    horizon = today + timedelta(days=max(lead_days))
    found = await session.execute(
        select(Offer, Tender, ProductLine.product, Broker, Conversation.opened_at)
        .join(Tender, Offer.tender_id == Tender.id)
        .join(ProductLine, ProductLine.id == Tender.product_line_id)
        .join(Broker, Broker.id == Tender.broker_id)
        .outerjoin(Conversation, Conversation.tender_id == Tender.id)
        .where(
            Tender.status == TenderStatus.OPEN,
            Tender.selected_offer_id.is_(None),
            Offer.valid_until >= today,
            Offer.valid_until <= horizon,
        )
        .order_by(Offer.valid_until, Offer.id)
    )
    offers = rows = 0
    for offer, tender, product, broker, opened_at in found:
        assert offer.valid_until is not None  # filtered above
        days_left = (offer.valid_until - today).days
        lead = reached_lead(days_left, lead_days)
        if lead is None:
            continue
        conversation_open = opened_at is not None
        context: dict[str, Any] = {
            "reference": tender.reference,
            "insurer": offer.insurer,
            "premium": str(from_cents(offer.premium_cents)),
            "valid_until": offer.valid_until.isoformat(),
            "days_left": days_left,
            "lead_days": lead,
            "product": product,
            "product_label": product_label(product),
            "customer_name": tender.customer_name,
            "conversation_open": conversation_open,
            "contact": contact,
            "advice": expiry_advice(tender.reference, conversation_open, contact),
        }
        written = await enqueue_for_broker(
            session, broker, EXPIRY_TEMPLATE, context, dedupe_key=f"expiry:{offer.id}:{lead}"
        )
        if written:
            offers += 1
            rows += len(written)
    return ReminderResult(offers=offers, rows=rows)


def is_workday(day: date) -> bool:
    return day.weekday() < 5


def workdays_since(start: date, end: date) -> int:
    """Mon–Fri days after ``start`` up to and including ``end``."""
    if end <= start:
        return 0
    full_weeks, rest = divmod((end - start).days, 7)
    count = full_weeks * 5
    for offset in range(1, rest + 1):
        if is_workday(start + timedelta(days=full_weeks * 7 + offset)):
            count += 1
    return count


@dataclass(frozen=True)
class FollowupResult:
    references: list[str]
    queued: bool  # False: nothing due, a weekend, or today's list was already queued


async def backoffice_followup(
    session: AsyncSession,
    now: datetime,
    zone: ZoneInfo,
    *,
    workdays: int,
    channel: str,
) -> FollowupResult:
    """Rule T9: list open tenders that have had no offer for ``workdays`` working days.

    One post to the backoffice channel per working day (dedupe key ``followup:<date>``), so
    each waiting tender is listed at most once a day until an offer arrives.
    """
    today = now.astimezone(zone).date()
    if not is_workday(today):
        return FollowupResult(references=[], queued=False)
    has_offer = exists().where(Offer.tender_id == Tender.id)
    # Working days are never fewer than calendar days, so this only narrows the candidates.
    found = await session.execute(
        select(Tender, ProductLine.product, Broker)
        .join(ProductLine, ProductLine.id == Tender.product_line_id)
        .join(Broker, Broker.id == Tender.broker_id)
        .where(
            Tender.status == TenderStatus.OPEN,
            ~has_offer,
            Tender.created_at <= now - timedelta(days=workdays),
        )
        .order_by(Tender.created_at, Tender.id)
    )
    listed: list[dict[str, Any]] = []
    for tender, product, broker in found:
        started = tender.created_at.astimezone(zone).date()
        waiting = workdays_since(started, today)
        if waiting < workdays:
            continue
        listed.append(
            {
                "reference": tender.reference,
                "customer_name": tender.customer_name,
                "product": product,
                "product_label": product_label(product),
                "broker_name": broker.name,
                "broker_number": broker.number,
                "started_on": started.isoformat(),
                "workdays_without_offer": waiting,
            }
        )
    if not listed:
        return FollowupResult(references=[], queued=False)
    row_id = await enqueue(
        session,
        channel=QueueKind.SLACK,
        recipient=channel,
        template=FOLLOWUP_TEMPLATE,
        context={"date": today.isoformat(), "workdays": workdays, "tenders": listed},
        dedupe_key=f"followup:{today.isoformat()}",
    )
    return FollowupResult(
        references=[item["reference"] for item in listed], queued=row_id is not None
    )
