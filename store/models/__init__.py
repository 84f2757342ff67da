"""All tables of tenderbot. The schema itself comes only from the Alembic migrations."""

from store.models.base import Base
from store.models.brokers import Broker
from store.models.budget import BudgetAccount, FivFigure, LedgerEntry
from store.models.conversation import (
    Attachment,
    Conversation,
    Message,
    MessageRevision,
    ProcessedEvent,
    ThreadLink,
)
from store.models.jobs import BudgetNoticeRun, JobRun
from store.models.platform import PlatformEvent
from store.models.queue import QueueRow
from store.models.tenders import (
    Consultation,
    Offer,
    ProductLine,
    ReferenceCounter,
    Tender,
)

__all__ = [
    "Attachment",
    "Base",
    "Broker",
    "BudgetAccount",
    "BudgetNoticeRun",
    "Consultation",
    "Conversation",
    "FivFigure",
    "JobRun",
    "LedgerEntry",
    "Message",
    "MessageRevision",
    "Offer",
    "PlatformEvent",
    "ProcessedEvent",
    "ProductLine",
    "QueueRow",
    "ReferenceCounter",
    "Tender",
    "ThreadLink",
]
