"""`tenderbot queue`: see what is waiting or dead, dead letters by kind, requeue, send now."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import click
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli.common import database, in_transaction, run, settings_or_exit
from bot.queue_worker import queue_senders, retry_policy
from bot.settings import Settings
from bot.slack_client import kept_alive, slack_client_for
from notifications import FlushResult, drain_outbox, list_unsent, recover_leases, requeue_dead
from pricing.formats import format_datetime
from store.models import QueueRow, QueueStatus

STATUS_LABELS: dict[str, str] = {
    QueueStatus.PENDING: "wartend",
    QueueStatus.DEAD: "Dead-Letter",
    QueueStatus.SENT: "gesendet",
}


def _when(moment: datetime | None, zone: ZoneInfo) -> str:
    return format_datetime(moment.astimezone(zone), seconds=True) if moment else "-"


def format_rows(rows: Sequence[QueueRow], zone: ZoneInfo) -> str:
    if not rows:
        return "Die Warteschlange ist leer: nichts wartet, nichts ist im Dead-Letter."
    lines = []
    for row in rows:
        lines.append(
            f"#{row.id}  {STATUS_LABELS.get(row.status, row.status)}  {row.kind} → "
            f"{row.recipient}  {row.template}  Versuche: {row.attempts}  "
            f"nächster Versuch: {_when(row.next_attempt_at, zone)}"
        )
        if row.lease_until is not None:
            lines.append(f"    in Arbeit bis {_when(row.lease_until, zone)}")
        if row.last_error:
            lines.append(f"    letzter Fehler: {row.last_error}")
    return "\n".join(lines)


def format_dead(rows: Sequence[QueueRow], zone: ZoneInfo) -> str:
    if not rows:
        return "Keine Einträge im Dead-Letter."
    counts = Counter(row.kind for row in rows)
    summary = ", ".join(f"{kind}: {count}" for kind, count in sorted(counts.items()))
    return f"Dead-Letter nach Art – {summary}\n{format_rows(rows, zone)}"


def format_result(result: FlushResult) -> str:
    text = f"Gesendet: {result.sent}, später erneut: {result.retried}, Dead-Letter: {result.dead}"
    details = [f"  #{row_id}: {error}" for row_id, error in result.errors]
    return "\n".join([text, *details])


@click.group(
    invoke_without_command=True,
    help="Warteschlange aller Zustellungen (E-Mail, Slack): wartende und tote Einträge.",
)
@click.option("--kind", default=None, help="Nur Einträge dieser Art (z. B. email, slack).")
@click.pass_context
def queue(context: click.Context, kind: str | None) -> None:
    if context.invoked_subcommand is not None:
        return
    settings = settings_or_exit()

    async def work(session: AsyncSession) -> str:
        rows = await list_unsent(session)
        return format_rows([row for row in rows if kind in (None, row.kind)], settings.zone)

    click.echo(run(in_transaction(settings, work)))


@queue.command("dead", help="Dead-Letter nach Art, mit Grund.")
def queue_dead() -> None:
    settings = settings_or_exit()

    async def work(session: AsyncSession) -> str:
        return format_dead(await list_unsent(session, statuses=(QueueStatus.DEAD,)), settings.zone)

    click.echo(run(in_transaction(settings, work)))


@queue.command("retry", help="Einen Dead-Letter-Eintrag erneut einreihen (gleiche Message-ID).")
@click.argument("row_id", type=int)
def queue_retry(row_id: int) -> None:
    settings = settings_or_exit()

    async def work(session: AsyncSession) -> str:
        row = await requeue_dead(session, row_id)
        return f"Eintrag #{row.id} ({row.kind} → {row.recipient}) wird erneut gesendet."

    click.echo(run(in_transaction(settings, work)))


async def _flush(settings: Settings, batch: int) -> FlushResult:
    """Free dead workers' leases, then deliver all that is due."""
    async with database(settings) as sessions:
        tell, policy = settings.backoffice_channel, retry_policy(settings)
        await recover_leases(sessions, dead_letters_to=tell, policy=policy)
        client = slack_client_for(settings)
        async with kept_alive(client):
            senders = queue_senders(settings, sessions, client)
            return await drain_outbox(
                sessions, senders, batch=batch, dead_letters_to=tell, policy=policy
            )


@queue.command("flush", help="Alles Fällige jetzt zustellen.")
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 10_000))
def queue_flush(batch: int) -> None:
    settings = settings_or_exit()
    result = run(_flush(settings, batch))
    click.echo(format_result(result))
    if settings.smtp_host is None and result.sent:
        click.echo("Ohne SMTP_HOST liegen die E-Mails als .eml-Dateien im Ordner outbox/.")
