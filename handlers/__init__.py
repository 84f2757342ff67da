"""Slack listeners. Each module named in LISTENER_MODULES exposes ``register(app, deps)``.

Engineers add their listener module with a one-line edit to the tuple; the composition root
(bot/app.py) calls ``register`` once per app.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from slack_bolt.async_app import AsyncApp

    from handlers.deps import Deps

LISTENER_MODULES: tuple[str, ...] = (
    # One module name per line, e.g. "commands",
    "tender_commands",
    "offer_commands",
    "account_commands",
    "home",
    "threads",
    "threads_query",
)


def register(app: AsyncApp, deps: Deps) -> None:
    for name in LISTENER_MODULES:
        module = importlib.import_module(f"handlers.{name}")
        module.register(app, deps)
