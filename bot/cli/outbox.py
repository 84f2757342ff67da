"""`tenderbot outbox`: see what is waiting or dead, requeue a dead row, send now."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TypeVar
from zoneinfo import ZoneInfo

import click
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli.common import database, in_transaction, run, settings_or_exit
from bot.notifiers import build_notifiers, slack_client_for
from bot.settings import Settings
from notifications import FlushResult, drain_outbox, list_unsent, recover_leases, requeue_dead
from store.models import OutboxRow

T = TypeVar("T")
STATUS_LABELS = {"pending": "wartend", "dead": "Dead-Letter", "sent": "gesendet"}


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%d.%m.%Y %H:%M:%S") if moment else "-"


def format_rows(rows: Sequence[OutboxRow], zone: ZoneInfo) -> str:
    if not rows:
        return "Die Outbox ist leer: nichts wartet, nichts ist im Dead-Letter."
    lines = []
    for row in rows:
        lines.append(
            f"#{row.id}  {STATUS_LABELS.get(row.status, row.status)}  {row.channel} → "
            f"{row.recipient}  {row.template}  Versuche: {row.attempts}  "
            f"nächster Versuch: {_when(row.next_attempt_at, zone)}"
        )
        if row.lease_until is not None:
            lines.append(f"    in Arbeit bis {_when(row.lease_until, zone)}")
        if row.last_error:
            lines.append(f"    letzter Fehler: {row.last_error}")
    return "\n".join(lines)


def format_result(result: FlushResult) -> str:
    text = f"Gesendet: {result.sent}, später erneut: {result.retried}, Dead-Letter: {result.dead}"
    details = [f"  #{row_id}: {error}" for row_id, error in result.errors]
    return "\n".join([text, *details])


@click.group(
    invoke_without_command=True,
    help="Benachrichtigungen (E-Mail, Slack): wartende und tote Einträge anzeigen.",
)
@click.pass_context
def outbox(context: click.Context) -> None:
    if context.invoked_subcommand is not None:
        return
    settings = settings_or_exit()

    async def work(session: AsyncSession) -> str:
        return format_rows(await list_unsent(session), settings.zone)

    click.echo(run(in_transaction(settings, work)))


@outbox.command("retry", help="Einen Dead-Letter-Eintrag erneut einreihen (gleiche Message-ID).")
@click.argument("row_id", type=int)
def outbox_retry(row_id: int) -> None:
    settings = settings_or_exit()

    async def work(session: AsyncSession) -> str:
        row = await requeue_dead(session, row_id)
        return f"Eintrag #{row.id} ({row.channel} → {row.recipient}) wird erneut gesendet."

    click.echo(run(in_transaction(settings, work)))


async def _flush(settings: Settings, batch: int) -> FlushResult:
    async with database(settings) as sessions:
        await recover_leases(sessions)
        notifiers = build_notifiers(settings, slack_client_for(settings))
        return await drain_outbox(sessions, notifiers, batch=batch)


@outbox.command("flush", help="Alle fälligen Benachrichtigungen jetzt senden.")
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 10_000))
def outbox_flush(batch: int) -> None:
    settings = settings_or_exit()
    result = run(_flush(settings, batch))
    click.echo(format_result(result))
    if settings.smtp_host is None and result.sent:
        click.echo("Ohne SMTP_HOST liegen die E-Mails als .eml-Dateien im Ordner outbox/.")
