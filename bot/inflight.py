"""Listener work that runs after the ack, tracked so that shutdown can wait for it.

Bolt acks a request, answers Slack 200 and runs the rest of the listener (the offer's
transaction, the card update) as a loose asyncio task. On SIGTERM those tasks used to be
cancelled when the event loop closed: Slack had its 200, the offer was never written. The
start handler below records each listener task, and ``drain`` waits for them before the
database and the HTTP client sessions close.
"""

from __future__ import annotations

import asyncio
import logging
import time

from slack_bolt.async_app import AsyncApp
from slack_bolt.listener.async_listener_start_handler import AsyncListenerStartHandler
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse

logger = logging.getLogger("tenderbot.shutdown")


class InFlight:
    """The tasks still doing work for requests that were already answered."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[object]] = set()
        self._deadline: float | None = None

    def stop_by(self, deadline: float) -> None:
        """When shutdown must be over (``time.monotonic()``), set as SIGTERM arrives."""
        self._deadline = deadline

    def time_left(self, *, default: float) -> float:
        if self._deadline is None:
            return default
        return max(self._deadline - time.monotonic(), 0.0)

    def __len__(self) -> int:
        return len(self._tasks)

    def track_current(self) -> None:
        task = asyncio.current_task()
        if task is not None and task not in self._tasks:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def drain(self, grace_seconds: float) -> int:
        """Wait until no tracked work is left (or ``grace_seconds`` passed); returns how many
        were cut off."""
        deadline = time.monotonic() + grace_seconds
        # A listener acked before its task started (events are acked by Bolt itself): let
        # every scheduled task take its first step, and with it register, before looking.
        await asyncio.sleep(0)
        while self._tasks:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.wait(set(self._tasks), timeout=remaining)
        left = set(self._tasks)
        for task in left:
            task.cancel()
        if left:
            logger.error(
                "shutdown: %d acknowledged request(s) still running after %.0f s were cut off",
                len(left),
                grace_seconds,
            )
        return len(left)


class _TrackingStart(AsyncListenerStartHandler):
    """Runs first inside the listener's own task, so the current task is the work itself."""

    def __init__(self, inner: AsyncListenerStartHandler, in_flight: InFlight) -> None:
        self.inner = inner
        self.in_flight = in_flight

    async def handle(self, request: AsyncBoltRequest, response: BoltResponse | None) -> None:
        self.in_flight.track_current()
        await self.inner.handle(request=request, response=response)


def track_listeners(app: AsyncApp) -> InFlight:
    """Record every listener task of ``app`` from now on."""
    in_flight = InFlight()
    runner = app.listener_runner
    runner.listener_start_handler = _TrackingStart(runner.listener_start_handler, in_flight)
    return in_flight
