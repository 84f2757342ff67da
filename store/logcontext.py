"""Fields that identify the work at hand in every log line: tender, Slack request, queue row.

A context variable, so each request's task and each delivery carries its own; every layer
binds what it knows (``bind(reference="AS-2026-0001")``) and the logging setup in
``bot/logs.py`` adds the fields to each record. Nothing here touches logging handlers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar

_FIELDS: ContextVar[Mapping[str, str] | None] = ContextVar("tenderbot_log_fields", default=None)


def bind(**fields: object) -> None:
    """Add fields for the rest of the current task (a listener, a delivery)."""
    current = _FIELDS.get() or {}
    _FIELDS.set({**current, **{key: str(value) for key, value in fields.items() if value}})


@contextmanager
def bound(**fields: object) -> Iterator[None]:
    """Add fields for the ``with`` block only."""
    current = _FIELDS.get() or {}
    token = _FIELDS.set({**current, **{key: str(value) for key, value in fields.items() if value}})
    try:
        yield
    finally:
        _FIELDS.reset(token)


def fields() -> Mapping[str, str]:
    return _FIELDS.get() or {}
