"""Filters the templates use: German money and dates, excerpts, Slack and header safety.

Money, dates and the Slack escape come from ``pricing.formats`` and ``pricing.slack_text``,
so an e-mail and a DM write them exactly as Slack's blocks and ``/rabatt`` do. Every
function is pure and raises ``ValueError`` for values it cannot show correctly, so a broken
context becomes a dead-lettered row with a clear error instead of a wrong e-mail.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from pricing.formats import format_date, format_euro
from pricing.slack_text import escape

# Any control character would let user text leave its header line or break the layout.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_WHITESPACE_RUN = re.compile(r"\s+")


def eur(value: object) -> str:
    """``"1234.5"`` → ``1.234,50 €``; refuses floats because they cannot hold cents exactly."""
    if isinstance(value, (bool, float)):
        raise ValueError(f"money must be a decimal string, not {type(value).__name__}")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"not an amount of money: {value!r}") from None
    if not amount.is_finite():
        raise ValueError(f"not an amount of money: {value!r}")
    return format_euro(amount)


def german_date(value: object) -> str:
    """``"2026-12-31"`` → ``31.12.2026``."""
    if isinstance(value, date):
        return format_date(value)
    try:
        return format_date(date.fromisoformat(str(value)))
    except ValueError:
        raise ValueError(f"not an ISO date: {value!r}") from None


def first_lines(text: object, lines: int = 6, max_chars: int = 600) -> str:
    """The start of a question; the whole text stays in Slack, the e-mail only points to it."""
    content = str(text).strip()
    kept = content.splitlines()[:lines]
    excerpt = "\n".join(line.rstrip() for line in kept)
    if len(excerpt) > max_chars:
        excerpt = excerpt[:max_chars].rstrip()
    if excerpt != content:
        excerpt += " …"
    return excerpt


def single_line(text: object) -> str:
    """Collapse every line break and control character, e.g. for a subject line."""
    return _WHITESPACE_RUN.sub(" ", _CONTROL.sub(" ", str(text))).strip()


def slack_escape(text: object) -> str:
    """Slack reads ``<…>`` as links and mentions and ``@channel`` as a broadcast; user text
    must not be able to do that."""
    return escape(str(text))


def days_phrase(value: object) -> str:
    """``0`` → ``heute``, ``1`` → ``in 1 Tag``, ``7`` → ``in 7 Tagen``."""
    days = int(str(value))
    if days <= 0:
        return "heute"
    return "in 1 Tag" if days == 1 else f"in {days} Tagen"
