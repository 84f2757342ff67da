"""The `tenderbot` console script: one click group, one module per command family."""

from __future__ import annotations

import click

from bot.cli import broker as broker_commands
from bot.cli import budget as budget_commands
from bot.cli import console as console_command
from bot.cli import db as db_commands
from bot.cli import demo as demo_command
from bot.cli import fiv as fiv_commands
from bot.cli import localslack as localslack_command
from bot.cli import outbox as outbox_commands
from bot.cli import rabatt as rabatt_command
from bot.cli import scheduler as scheduler_command
from bot.cli import serve as serve_commands


@click.group(help="tenderbot – der Ausschreibungs-Schalter in Slack und E-Mail.")
def cli() -> None:
    pass


cli.add_command(db_commands.db)
cli.add_command(broker_commands.broker)
cli.add_command(budget_commands.budget)
cli.add_command(rabatt_command.rabatt)
cli.add_command(fiv_commands.fiv)
cli.add_command(outbox_commands.outbox)
cli.add_command(scheduler_command.scheduler)
cli.add_command(serve_commands.serve_command)
cli.add_command(serve_commands.socket_command)
cli.add_command(demo_command.demo)
cli.add_command(console_command.console)
cli.add_command(localslack_command.localslack)


def main() -> None:
    cli(prog_name="tenderbot")
