"""What the queues and the schedule report for operators, kept as plain counters.

Every layer may import this module (it imports none of ours) and counting costs one dict
update, so the queue, the senders and the scheduler call ``delivered`` / ``retried`` /
``dead_lettered`` / ``budget_run`` / ``job_finished`` where the outcome is recorded.
``bot/metrics.py`` turns the counters, and ``queue_stats`` at scrape time, into Prometheus
metrics; prometheus_client is imported only there, so quick CLI commands never load it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from store.models import QueueKind, QueueRow, QueueStatus
from store.types import utcnow

DELIVERIES = "tenderbot_deliveries"
RETRIES = "tenderbot_retries"
DEAD_LETTERS = "tenderbot_dead_letters"
BUDGET_RUNS = "tenderbot_budget_runs"
SCHEDULER_JOBS = "tenderbot_scheduler_jobs"

# The queue's kinds, each reported even while none of its rows waits.
KINDS: tuple[str, ...] = tuple(QueueKind)

Labels = tuple[tuple[str, str], ...]

_counts: Counter[tuple[str, Labels]] = Counter()


def count(name: str, amount: int = 1, **labels: str) -> None:
    _counts[(name, tuple(sorted(labels.items())))] += amount


def delivered(kind: str, amount: int = 1) -> None:
    count(DELIVERIES, amount, kind=kind)


def retried(kind: str, reason: str) -> None:
    count(RETRIES, kind=kind, reason=reason)


def dead_lettered(kind: str, reason: str) -> None:
    count(DEAD_LETTERS, kind=kind, reason=reason)


def budget_run(outcome: str) -> None:
    """``distributed``, ``already_distributed``, ``waiting`` (no FIV figures yet) or
    ``not_due`` (B1–B3)."""
    count(BUDGET_RUNS, outcome=outcome)


def job_finished(job: str, outcome: str) -> None:
    """``ok``, ``error`` or ``missed`` for one run of a scheduled job."""
    count(SCHEDULER_JOBS, job=job, outcome=outcome)


def counted() -> dict[tuple[str, Labels], int]:
    """A copy of every counter so far in this process, for the exposition and for tests."""
    return dict(_counts)


def value(name: str, **labels: str) -> int:
    return _counts.get((name, tuple(sorted(labels.items()))), 0)


@dataclass(frozen=True)
class QueueStat:
    kind: str
    depth: int
    oldest_due_seconds: float


async def queue_stats(session: AsyncSession, now: datetime | None = None) -> list[QueueStat]:
    """Rows waiting per kind and how long the oldest due one has waited, in one query over
    the one queue every side effect leaves through."""
    now = now or utcnow()
    due = QueueRow.next_attempt_at <= now
    rows = await session.execute(
        select(QueueRow.kind, func.count(), func.min(QueueRow.next_attempt_at).filter(due))
        .where(QueueRow.status == QueueStatus.PENDING)
        .group_by(QueueRow.kind)
    )
    return [
        QueueStat(
            kind=kind,
            depth=depth,
            oldest_due_seconds=max((now - oldest).total_seconds(), 0.0) if oldest else 0.0,
        )
        for kind, depth, oldest in rows.all()
    ]
