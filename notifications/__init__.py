"""Delivering the queue (store.queue): e-mail (SMTP or .eml files) and Slack notices, and
the one worker that drives every kind's sender.

Services only enqueue rows (store.outbox, store.queue); this package renders and delivers
them. Callers use ``flush_outbox``/``drain_outbox`` (or ``KeptSenders`` for a worker that runs as
long as its process) and ``recover_leases`` with the senders that bot/notifiers.py
assembles from the settings.
"""

from notifications.admin import list_unsent, requeue_dead
from notifications.contract import Delivery, Notifier, TransportError
from notifications.local_sink import LocalSinkNotifier
from notifications.render import TEMPLATES, Rendered, RenderError, render
from notifications.slack_dm import SlackDmNotifier
from notifications.smtp import SmtpConfig, SmtpNotifier
from notifications.worker import (
    FlushResult,
    KeptSenders,
    RecoveredLeases,
    drain_outbox,
    flush_outbox,
    recover_leases,
)
from store.queue import RetryPolicy

__all__ = [
    "TEMPLATES",
    "Delivery",
    "FlushResult",
    "KeptSenders",
    "LocalSinkNotifier",
    "Notifier",
    "RecoveredLeases",
    "RenderError",
    "Rendered",
    "RetryPolicy",
    "SlackDmNotifier",
    "SmtpConfig",
    "SmtpNotifier",
    "TransportError",
    "drain_outbox",
    "flush_outbox",
    "list_unsent",
    "recover_leases",
    "render",
    "requeue_dead",
]
