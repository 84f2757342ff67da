"""The one contract every outside service implements (after healthchecks' transports).

A notifier gets one rendered delivery at a time and either returns (delivered) or raises
``TransportError``; ``permanent`` tells the worker whether a retry can ever help.
A notifier whose CPU work per delivery is worth hiding also offers ``prepare``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from notifications.render import Rendered


class TransportError(Exception):
    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


@dataclass(frozen=True)
class Delivery:
    """What a notifier needs of an outbox row, detached from the database session."""

    row_id: int
    channel: str
    recipient: str
    message_id: str
    template: str
    rendered: Rendered


class Notifier(Protocol):
    channel: str

    async def notify(self, delivery: Delivery) -> None:
        """Deliver or raise TransportError; may keep a connection open between calls."""
        ...

    async def close(self) -> None:
        """Release what notify kept open; called once at the end of every flush."""
        ...


Send = Callable[[], Awaitable[None]]


@runtime_checkable
class PreparingNotifier(Notifier, Protocol):
    async def prepare(self, delivery: Delivery) -> Send:
        """Do the delivery's CPU work now (build, serialise) and return the network part.

        The worker prepares the next delivery while the previous one is on the wire, so
        one connection stays busy; between long steps ``prepare`` yields to the event loop
        so that send can go on. Raises TransportError like ``notify`` would; ``notify``
        must behave exactly like preparing and then calling the returned function.
        """
        ...
