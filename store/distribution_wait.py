"""Rule B2's wait: does a yearly distribution wait for the FIV figures of given years?

`tenderbot fiv import` asks this after every import. It lives apart from store.distribution
so that the command answers it with one statement and without loading the ORM models and
the distribution's SQL, which would add a fifth to the start of the process.
"""

from __future__ import annotations

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

JOB = "budget_distribution"
# A job_runs row per budget year that had to wait for its FIV figures (B2).
WAITING_JOB = "budget_distribution_waiting"

# A budget year that waited and has not been distributed since.
_WAITING = text(
    """
    SELECT w.period FROM job_runs AS w
    WHERE w.job = :waiting AND w.period IN :periods
      AND NOT EXISTS (SELECT 1 FROM job_runs AS d WHERE d.job = :job AND d.period = w.period)
    LIMIT 1
    """
).bindparams(bindparam("periods", expanding=True))


async def waits_for_figures(session: AsyncSession, base_years: set[int]) -> bool:
    """Does a budget year based on one of ``base_years`` wait for its figures (B2)?"""
    if not base_years:
        return False
    periods = sorted(str(year + 1) for year in base_years)
    found = await session.scalar(_WAITING, {"waiting": WAITING_JOB, "periods": periods, "job": JOB})
    return found is not None
