"""The record of every call the app made to the local Slack, and waits on that record.

Tests assert on it, ``tenderbot demo`` and ``tenderbot console`` turn it into what each
person sees, and ``tenderbot localslack`` prints each call as it comes (``on_call``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bot.localslack.state import Call

Predicate = Callable[[], bool]


class Recorder:
    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._changed = asyncio.Condition()
        self._observers: list[Callable[[Call], None]] = []

    def calls(self, method: str | None = None) -> list[Call]:
        return [call for call in self._calls if method is None or call.method == method]

    def refusals(self) -> list[Call]:
        """Every payload refused for breaking Slack's limits (tests assert there are none)."""
        return [call for call in self._calls if call.problems]

    def on_call(self, observer: Callable[[Call], None]) -> None:
        """Be told about every call as it is recorded."""
        self._observers.append(observer)

    async def record(self, call: Call) -> None:
        self._calls.append(call)
        for observer in self._observers:
            observer(call)
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Predicate, seconds: float = 30.0) -> None:
        """Wait until ``predicate()`` holds, re-checked after every recorded call. The bound
        is generous: it only ends a wait that will never succeed, and a loaded machine can
        take seconds for one request."""
        async with asyncio.timeout(seconds), self._changed:
            await self._changed.wait_for(predicate)

    async def wait_for_calls(
        self, method: str, count: int = 1, seconds: float = 30.0
    ) -> list[Call]:
        await self.wait_for(lambda: len(self.calls(method)) >= count, seconds)
        return self.calls(method)

    async def settle(self, quiet: float = 0.3, seconds: float = 10.0) -> None:
        """Wait until no call came for ``quiet`` seconds: for the demo and console only.

        Tests wait for a predicate instead (``wait_for``), which never depends on timing.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while loop.time() < deadline:
            if not await self._grows_within(quiet, len(self._calls)):
                return

    async def _grows_within(self, quiet: float, seen: int) -> bool:
        try:
            async with asyncio.timeout(quiet), self._changed:
                await self._changed.wait_for(lambda: len(self._calls) > seen)
        except TimeoutError:
            return False
        return True
