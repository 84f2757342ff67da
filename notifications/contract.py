"""The contract of the notification senders (e-mail, Slack notices), which get rendered rows.

A notifier gets one rendered delivery at a time and either returns (delivered) or raises
``store.queue.TransportError``; ``permanent`` tells the worker whether a retry can ever
help. Slack actions (cards, thread posts) implement ``store.queue.Sender`` instead.
A notifier whose CPU work per delivery is worth hiding also offers ``prepare``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from notifications.render import Rendered
from store.queue import TransportError

__all__ = [
    "Delivery",
    "Gate",
    "Notifier",
    "PreparingNotifier",
    "Send",
    "TransportError",
    "open_gate",
]


@dataclass(frozen=True)
class Delivery:
    """What a notifier needs of an outbox row, detached from the database session."""

    row_id: int
    channel: str
    recipient: str
    message_id: str
    template: str
    rendered: Rendered
    # The e-mail's Reply-To (notifications/replies.py); None: answers are not read.
    reply_to: str | None = None


class Notifier(Protocol):
    channel: str

    async def notify(self, delivery: Delivery) -> None:
        """Deliver or raise TransportError; may keep a connection open between calls."""
        ...

    async def close(self) -> None:
        """Release what notify kept open; called once at the end of every flush."""
        ...


# Awaited by a send right before the step after which its delivery cannot be taken back
# (for SMTP the end of DATA); the worker opens it once the previous delivery's outcome is
# recorded, so the steps before it overlap that write and never two deliveries are made
# and unrecorded at once. Raises when that record failed: the send must then stop short.
Gate = Callable[[], Awaitable[None]]
Send = Callable[[Gate], Awaitable[None]]


async def open_gate() -> None:
    """The gate of a delivery that waits for nothing (``notify``)."""


@runtime_checkable
class PreparingNotifier(Notifier, Protocol):
    async def prepare(self, delivery: Delivery) -> Send:
        """Do the delivery's CPU work now (build, serialise) and return the network part.

        The worker prepares the next delivery while the previous one is on the wire, so
        one connection stays busy; between long steps ``prepare`` yields to the event loop
        so that send can go on. Raises TransportError like ``notify`` would; ``notify``
        must behave exactly like preparing and then calling the returned function with
        ``open_gate``.
        """
        ...
