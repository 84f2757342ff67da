"""Every status and kind a row can hold, as the strings the database stores.

Models take their defaults from here, and queries, Core updates and code compare against
these members, never against string literals. A ``StrEnum`` member is the string itself, so
the values in the database (and the migrations that wrote them) stay as they are.
"""

from __future__ import annotations

from enum import StrEnum


class TenderStatus(StrEnum):
    OPEN = "open"
    SELECTED = "selected"  # T8: an offer was chosen
    NO_OFFERS = "no_offers"
    CLOSED = "closed"


# A tender in one of these takes no new offers, messages or changes (M4).
FINISHED = frozenset({TenderStatus.SELECTED, TenderStatus.NO_OFFERS, TenderStatus.CLOSED})


class QueueStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # dead letter: given up, with the reason in last_error


class QueueKind(StrEnum):
    """Which sender delivers a queue row."""

    EMAIL = "email"
    SLACK = "slack"  # a notice as a DM
    SLACK_CARD = "slack_card"  # a tender card posted or updated (T4/T5)
    THREAD = "thread"  # a mirrored thread post, edit, deletion or reaction


class DeliveryState(StrEnum):
    """Where a thread message stands with the other side."""

    PENDING = "pending"
    DELIVERED = "delivered"
    NOT_NEEDED = "not_needed"  # an internal note: it stays where it was written


class LedgerKind(StrEnum):
    DISTRIBUTION = "distribution"  # B1/B2
    CHARGE = "charge"  # P3
    STORNO = "storno"  # B4
    CREDIT = "credit"  # a change of the granted credit, 0 cents: the audit entry
    CORRECTION = "correction"
