"""The yearly Konzeptrabatt budget distribution (rules B1–B3) and its notices.

Set-based on purpose: one ``INSERT … SELECT … GROUP BY`` sums the FIV figures (and finds
each number's broker), and on PostgreSQL one statement books every broker's credit in the
ledger and moves the cached balances with the rows it booked. A hundred thousand brokers
cost a handful of statements, not a round trip each (timings: bench/budget.py).

"Once a year" (B2) is the ``job_runs`` primary key: the row is inserted in the same
transaction as the bookings, so a second runner (another replica, a restart, the CLI) either
waits for the first to commit and then finds the row, or takes over if the first rolled back.

The notices (an e-mail per address and a Slack DM per broker) are not written in that
transaction: a quarter of a million outbox rows would keep every credited account locked
against Konzeptrabatt charges for as long again as the bookings take. The transaction writes a
``budget_notice_runs`` row instead, and ``queue_distribution_notices`` turns it into outbox
rows a few thousand brokers per transaction afterwards. Because that row commits with the
bookings, a crash in between only delays the notices until the next run picks them up.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from store.db import transaction
from store.dialect import dialect_name, insert_ignoring_conflicts
from store.distribution_wait import JOB, WAITING_JOB
from store.models import BudgetNoticeRun, FivFigure, JobRun, LedgerKind, QueueKind, QueueStatus
from store.outbox import MESSAGE_ID_DOMAIN, enqueue
from store.types import UTCDateTime, utcnow
from store.wake import QUEUE, wake_on_commit

KIND = LedgerKind.DISTRIBUTION
NEW_PREMIUM = 1  # Zugangsart 1: only new premium counts (B1)
TEMPLATE = "budget_distributed"
MAX_LISTED_UNKNOWN = 50

# B1: 3 % of the sum, rounded half up to whole cents. Integer arithmetic so SQLite and
# PostgreSQL agree to the cent; only positive sums reach it (see the WHERE below).
_BUDGET = "(s.total * 3 + 50) / 100"

# The sums are collected once into a temporary table, next to the broker each belongs to
# (NULL for a number nobody has): booking and the report of unknown broker numbers both read
# them, and neither aggregating a million FIV rows nor joining the brokers happens twice.
# DDL is transactional on both databases, so a rollback removes the table as well.
_CREATE_SUMS = (
    "CREATE TEMPORARY TABLE budget_sums "
    "(broker_number VARCHAR(32), broker_id INTEGER, total BIGINT)"
)
_COLLECT_SUMS = f"""
    INSERT INTO budget_sums (broker_number, broker_id, total)
    SELECT s.broker_number, b.id, s.total
    FROM (
        SELECT broker_number, SUM(premium_cents) AS total
        FROM fiv_figures
        WHERE year = :base_year AND access_type = {NEW_PREMIUM}
        GROUP BY broker_number
    ) AS s
    LEFT JOIN brokers AS b ON b.number = s.broker_number
"""
_DROP_SUMS = "DROP TABLE budget_sums"

# The brokers credited: known, and 3 % of their sum is at least a cent.
_CREDITED = "s.broker_id IS NOT NULL AND s.total * 3 + 50 >= 100"

# B3: brokers whose negative balance the new budget offsets, counted before it is booked.
_COUNT_NEGATIVE = f"""
    SELECT COUNT(*)
    FROM budget_sums AS s
    JOIN budget_accounts AS a ON a.broker_id = s.broker_id
    WHERE {_CREDITED} AND a.balance_cents < 0
"""

# PostgreSQL books the ledger and moves the balances in one statement: the ledger rows come
# back from the INSERT and feed the accounts' upsert directly, instead of a second pass
# that finds them again in the ledger and a third that opens missing accounts. In broker
# order, so the ledger's broker indexes, the foreign-key checks and the accounts are each
# walked front to back. B3: the credit is added to whatever is there, so unspent budget
# carries over and a negative balance is offset against the new budget by the same addition.
_BOOK_AND_MOVE = f"""
    WITH booked AS (
        INSERT INTO ledger_entries (broker_id, amount_cents, kind, reference, note, created_at)
        SELECT s.broker_id, s.amount, :kind, :reference, :note, :now
        FROM (
            SELECT s.broker_id, {_BUDGET} AS amount
            FROM budget_sums AS s
            WHERE {_CREDITED}
            ORDER BY s.broker_id
        ) AS s
        RETURNING id, broker_id, amount_cents
    ), moved AS (
        INSERT INTO budget_accounts AS a (broker_id, balance_cents, credit_limit_cents)
        SELECT broker_id, amount_cents, 0 FROM booked
        ON CONFLICT (broker_id)
        DO UPDATE SET balance_cents = a.balance_cents + excluded.balance_cents
    )
    SELECT COUNT(*), COALESCE(SUM(amount_cents), 0), MIN(id), MAX(id) FROM booked
"""

# SQLite has no INSERT inside WITH: the same three steps one after the other.
_BOOK = f"""
    INSERT INTO ledger_entries (broker_id, amount_cents, kind, reference, note, created_at)
    SELECT s.broker_id, {_BUDGET}, :kind, :reference, :note, :now
    FROM budget_sums AS s
    WHERE {_CREDITED}
"""

_OPEN_MISSING_ACCOUNTS = """
    INSERT INTO budget_accounts (broker_id, balance_cents, credit_limit_cents)
    SELECT l.broker_id, 0, 0
    FROM ledger_entries AS l
    WHERE l.kind = :kind AND l.reference = :reference
      AND NOT EXISTS (SELECT 1 FROM budget_accounts AS a WHERE a.broker_id = l.broker_id)
"""

_MOVE_BALANCES = """
    UPDATE budget_accounts
    SET balance_cents = budget_accounts.balance_cents + l.amount_cents
    FROM ledger_entries AS l
    WHERE l.broker_id = budget_accounts.broker_id
      AND l.kind = :kind AND l.reference = :reference
"""

_TOTALS = """
    SELECT COUNT(*), COALESCE(SUM(amount_cents), 0), MIN(id), MAX(id)
    FROM ledger_entries
    WHERE kind = :kind AND reference = :reference
"""

_UNKNOWN = """
    SELECT s.broker_number, s.total
    FROM budget_sums AS s
    WHERE s.broker_id IS NULL
    ORDER BY s.broker_number
"""


@dataclass
class DistributionResult:
    year: int
    base_year: int
    ran: bool  # False: this year's distribution had already been done
    ran_at: datetime | None = None
    brokers: int = 0
    total_cents: int = 0
    # B3: brokers whose negative balance was offset against the new budget.
    negative_offset: int = 0
    # FIV figures whose broker number is not in `brokers`: kept in fiv_figures, reported here.
    unknown_numbers: list[tuple[str, int]] = field(default_factory=list)
    unknown_count: int = 0
    # B2: not run because the base year has no FIV figures yet; it runs once they are in.
    waiting: bool = False


def budget_date(year: int, month_day: tuple[int, int]) -> date:
    month, day = month_day
    return date(year, month, day)


def due_year(today: date, month_day: tuple[int, int]) -> int | None:
    """The budget year to distribute on ``today`` (local date), or None before the day."""
    return today.year if today >= budget_date(today.year, month_day) else None


def _money_sql(dialect: str, column: str) -> str:
    """Cents as a plain decimal string like ``-12.05``, built in SQL for the notice context."""
    if dialect == "postgresql":
        cents = f"lpad(CAST(abs({column}) % 100 AS TEXT), 2, '0')"
    else:
        cents = f"substr('00' || CAST(abs({column}) % 100 AS TEXT), -2)"
    sign = f"CASE WHEN {column} < 0 THEN '-' ELSE '' END"
    return f"{sign} || CAST(abs({column}) / 100 AS TEXT) || '.' || {cents}"


def _notices_sql(dialect: str) -> str:
    """One outbox row per recipient of the brokers credited by ledger entries
    ``(after, upto]``, like ``enqueue_for_broker`` would write them."""
    if dialect == "postgresql":
        # Driven by the batch's ledger range: each broker's recipients come from a LATERAL
        # list, so a batch reads its own brokers instead of every broker three times.
        message_id = "replace(CAST(gen_random_uuid() AS TEXT), '-', '')"
        json_object = "json_build_object"
        recipients = f"""
            JOIN brokers AS b ON b.id = l.broker_id
            CROSS JOIN LATERAL (
                SELECT '{QueueKind.EMAIL}', b.email WHERE b.notify_email
                UNION ALL
                SELECT '{QueueKind.EMAIL}', cc.value
                FROM json_array_elements_text(b.cc_emails) AS cc(value)
                WHERE b.notify_email
                UNION ALL
                SELECT '{QueueKind.SLACK}', b.slack_user_id WHERE b.notify_slack
            ) AS u(channel, recipient)
        """
    else:
        # SQLite has no LATERAL; it pushes the broker join down into each branch instead.
        message_id = "lower(hex(randomblob(16)))"
        json_object = "json_object"
        recipients = f"""
            JOIN (
                SELECT b.id AS broker_id, '{QueueKind.EMAIL}' AS channel, b.email AS recipient
                FROM brokers AS b WHERE b.notify_email
                UNION ALL
                SELECT b.id, '{QueueKind.EMAIL}', cc.value
                FROM brokers AS b, json_each(b.cc_emails) AS cc
                WHERE b.notify_email
                UNION ALL
                SELECT b.id, '{QueueKind.SLACK}', b.slack_user_id
                FROM brokers AS b WHERE b.notify_slack
            ) AS u ON u.broker_id = l.broker_id
            JOIN brokers AS b ON b.id = l.broker_id
        """
    # No ON CONFLICT and no anti-join on the dedupe keys: the batch cursor already makes each
    # row the only one of its key, and should that ever fail the unique index refuses the
    # batch instead of doubling a notice.
    return f"""
        INSERT INTO queue (kind, recipient, template, context, message_id, dedupe_key,
                            status, attempts, next_attempt_at, created_at)
        SELECT u.channel, u.recipient, :template,
               {json_object}(
                   'year', CAST(:year AS INTEGER),
                   'base_year', CAST(:base_year AS INTEGER),
                   'amount', {_money_sql(dialect, "l.amount_cents")},
                   'balance', {_money_sql(dialect, "a.balance_cents")},
                   'broker_name', b.name,
                   'broker_number', b.number
               ),
               '<' || {message_id} || '@{MESSAGE_ID_DOMAIN}>',
               CAST(:dedupe_prefix AS TEXT) || u.channel || ':' || u.recipient,
               '{QueueStatus.PENDING}', 0, :now, :now
        FROM ledger_entries AS l
        {recipients}
        JOIN budget_accounts AS a ON a.broker_id = l.broker_id
        WHERE l.id > :after AND l.id <= :upto AND l.kind = :kind AND l.reference = :reference
    """


_CLAIM_NOTICE_RUN = """
    UPDATE budget_notice_runs SET queued_through = queued_through
    WHERE year = (SELECT MIN(year) FROM budget_notice_runs WHERE finished_at IS NULL)
      AND finished_at IS NULL
    RETURNING year, queued_through, last_ledger_id
"""

_BATCH_END = """
    SELECT id FROM ledger_entries
    WHERE id > :after AND id <= :last AND kind = :kind AND reference = :reference
    ORDER BY id
    LIMIT 1 OFFSET :skip
"""

_ADVANCE_NOTICE_RUN = """
    UPDATE budget_notice_runs
    SET queued_through = :upto, finished_at = :finished
    WHERE year = :year
"""

NOTICE_BATCH = 5000


def notice_dedupe_key(year: int) -> str:
    """Same prefix as ``enqueue_for_broker(…, dedupe_key=…)`` would use: one notice a year."""
    return f"budget:{year}"


async def distribute_budget(
    session: AsyncSession, year: int, *, now: datetime | None = None
) -> DistributionResult:
    """Credit every broker 3 % of last year's new premium (B1), once for ``year`` (B2).

    Runs in the caller's transaction; if it rolls back, the year counts as not distributed.
    """
    now = now or utcnow()
    base_year = year - 1
    claimed = await session.scalar(
        insert_ignoring_conflicts(session, JobRun, returning=JobRun.job).values(
            job=JOB, period=str(year), ran_at=now
        )
    )
    if claimed is None:
        ran_at = await session.scalar(
            select(JobRun.ran_at).where(JobRun.job == JOB, JobRun.period == str(year))
        )
        return DistributionResult(year=year, base_year=base_year, ran=False, ran_at=ran_at)

    reference = str(year)
    keys = {"kind": KIND, "reference": reference}
    when = bindparam("now", now, type_=UTCDateTime())
    note = f"Konzeptrabatt-Budget {year}: 3 % des Neugeschäfts {base_year} (Zugangsart 1)"
    dialect = dialect_name(session)
    await session.execute(text(_CREATE_SUMS))
    await session.execute(text(_COLLECT_SUMS), {"base_year": base_year})
    if dialect == "postgresql":
        # Fresh rows have no statistics; without them the planner guesses a handful of rows.
        await session.execute(text("ANALYZE budget_sums"))
    negative = (await session.execute(text(_COUNT_NEGATIVE))).scalar_one()
    booking = {**keys, "note": note}
    if dialect == "postgresql":
        # The broker-ordered booking sorts ~100,000 narrow rows; the default 4 MB would
        # spill them to disk.
        await session.execute(text("SET LOCAL work_mem = '32MB'"))
        totals = await session.execute(text(_BOOK_AND_MOVE).bindparams(when), booking)
    else:
        await session.execute(text(_BOOK).bindparams(when), booking)
        await session.execute(text(_OPEN_MISSING_ACCOUNTS), keys)
        await session.execute(text(_MOVE_BALANCES), keys)
        totals = await session.execute(text(_TOTALS), keys)
    brokers, total, first_id, last_id = totals.one()
    if brokers:
        session.add(
            BudgetNoticeRun(
                year=year,
                last_ledger_id=int(last_id),
                queued_through=int(first_id) - 1,
                created_at=now,
            )
        )
    unknown_rows = (await session.execute(text(_UNKNOWN))).all()
    await session.execute(text(_DROP_SUMS))
    await session.flush()
    # The ORM's identity map may hold accounts loaded before this raw UPDATE.
    session.expire_all()
    return DistributionResult(
        year=year,
        base_year=base_year,
        ran=True,
        ran_at=now,
        brokers=int(brokers),
        total_cents=int(total),
        negative_offset=int(negative),
        unknown_numbers=[(str(n), int(t)) for n, t in unknown_rows[:MAX_LISTED_UNKNOWN]],
        unknown_count=len(unknown_rows),
    )


async def queue_notice_batch(
    session: AsyncSession, *, batch: int = NOTICE_BATCH, now: datetime | None = None
) -> int | None:
    """Queue the notices of the next ``batch`` brokers of the oldest distribution whose
    notices are not all queued yet; None when there is none.

    The claim is an UPDATE, so a second runner waits for this transaction (PostgreSQL's row
    lock, SQLite's write lock) and then continues behind the cursor it moved.
    """
    claimed = (await session.execute(text(_CLAIM_NOTICE_RUN))).first()
    if claimed is None:
        return None
    year, after, last = (int(value) for value in claimed)
    reference = str(year)
    keys = {"kind": KIND, "reference": reference}
    end = await session.scalar(
        text(_BATCH_END), {**keys, "after": after, "last": last, "skip": batch - 1}
    )
    upto = last if end is None else int(end)
    now = now or utcnow()
    when = bindparam("now", now, type_=UTCDateTime())
    dialect = dialect_name(session)
    if dialect == "postgresql":
        # The planner cannot estimate the CC expansion and would JIT-compile this statement;
        # the compile costs more than the whole insert saves (see bench/budget.py).
        await session.execute(text("SET LOCAL jit = off"))
    queued = await session.execute(
        text(_notices_sql(dialect)).bindparams(when),
        {
            **keys,
            "after": after,
            "upto": upto,
            "template": TEMPLATE,
            "year": year,
            "base_year": year - 1,
            "dedupe_prefix": notice_dedupe_key(year) + ":",
        },
    )
    wake_on_commit(session, QUEUE)
    finished = bindparam("finished", now if upto >= last else None, type_=UTCDateTime())
    await session.execute(
        text(_ADVANCE_NOTICE_RUN).bindparams(finished), {"upto": upto, "year": year}
    )
    return max(int(getattr(queued, "rowcount", 0) or 0), 0)


async def queue_distribution_notices(
    sessions: async_sessionmaker[AsyncSession],
    *,
    batch: int = NOTICE_BATCH,
    now: datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Tell every credited broker the new balance (outbox rows, one transaction per batch)
    for every distribution not yet fully told; returns the number of rows queued.
    ``progress(brokers)`` follows each committed batch (up to ``batch`` brokers)."""
    queued = 0
    while True:
        async with transaction(sessions) as session:
            rows = await queue_notice_batch(session, batch=batch, now=now)
        if rows is None:
            return queued
        queued += rows
        if progress is not None:
            progress(batch)


WAITING_TEMPLATE = "budget_waiting"


async def _has_figures(session: AsyncSession, year: int) -> bool:
    found = await session.scalar(select(FivFigure.year).where(FivFigure.year == year).limit(1))
    return found is not None


async def distribute_if_due(
    session: AsyncSession,
    month_day: tuple[int, int],
    zone: ZoneInfo,
    *,
    now: datetime | None = None,
    backoffice_channel: str | None = None,
) -> DistributionResult | None:
    """The scheduler's step (hourly, at start, after an FIV import): distribute this year's
    budget once the local budget day has come; None before it.

    Rule B2 claims the year once, so it must not be claimed on an empty base: without FIV
    figures for the base year the run waits (``waiting``) and tells the backoffice channel,
    at most once a day, until an import brings them.
    """
    now = now or utcnow()
    today = now.astimezone(zone).date()
    year = due_year(today, month_day)
    if year is None:
        return None
    done = await session.scalar(
        select(JobRun.ran_at).where(JobRun.job == JOB, JobRun.period == str(year))
    )
    if done is None and not await _has_figures(session, year - 1):
        await session.execute(
            insert_ignoring_conflicts(session, JobRun).values(
                job=WAITING_JOB, period=str(year), ran_at=now
            )
        )
        if backoffice_channel:
            await enqueue(
                session,
                channel=QueueKind.SLACK,
                recipient=backoffice_channel,
                template=WAITING_TEMPLATE,
                context={"year": year, "base_year": year - 1, "date": today.isoformat()},
                dedupe_key=f"budget-waiting:{year}:{today.isoformat()}",
            )
        return DistributionResult(year=year, base_year=year - 1, ran=False, waiting=True)
    return await distribute_budget(session, year, now=now)
