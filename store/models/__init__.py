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
from store.models.status import (
    FINISHED,
    DeliveryState,
    LedgerKind,
    QueueKind,
    QueueStatus,
    TenderStatus,
)
from store.models.tenders import (
    Consultation,
    Offer,
    ProductLine,
    ReferenceCounter,
    Tender,
)

__all__ = [
    "FINISHED",
    "Attachment",
    "Base",
    "Broker",
    "BudgetAccount",
    "BudgetNoticeRun",
    "Consultation",
    "Conversation",
    "DeliveryState",
    "FivFigure",
    "JobRun",
    "LedgerEntry",
    "LedgerKind",
    "Message",
    "MessageRevision",
    "Offer",
    "PlatformEvent",
    "ProcessedEvent",
    "ProductLine",
    "QueueKind",
    "QueueRow",
    "QueueStatus",
    "ReferenceCounter",
    "Tender",
    "TenderStatus",
    "ThreadLink",
]
