"""A click group whose commands are imported only when they run.

`tenderbot rabatt` is a pure calculation and `tenderbot --help` only lists names; importing
Bolt, SQLAlchemy and aiohttp for them cost seconds. Each command is therefore registered by
its import path and a one-line summary for the help listing, and its module is imported the
first time click asks for that command.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from bot.cli.quick import Lazy

__all__ = ["Lazy", "LazyGroup", "make_group"]


class LazyGroup(click.Group):
    def __init__(self, *args: Any, lazy: dict[str, Lazy], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = self.lazy.get(cmd_name)
        if entry is not None and cmd_name not in self.commands:
            self.add_command(entry.load(), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own listing would load every command to read its help.
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows: list[tuple[str, str]] = []
        for name in names:
            entry = self.lazy.get(name)
            if entry is not None and name not in self.commands:
                # A bare command with the summary as help shortens it the way click does.
                summary = click.Command(name, help=entry.summary).get_short_help_str(limit)
                rows.append((name, summary))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def make_group(commands: Mapping[str, Lazy], text: str) -> LazyGroup:
    """The `tenderbot` group over ``commands``, with ``text`` as its help."""

    @click.group(cls=LazyGroup, lazy=dict(commands), help=text)
    def cli() -> None:
        pass

    assert isinstance(cli, LazyGroup)
    return cli
