"""`tenderbot broker …`: add, list and import brokers (Slack user, broker number, e-mail)."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession

from bot.cli.common import domain_or_exit, in_transaction, run, settings_or_exit
from store.brokers import add_broker, list_brokers, parse_broker, parse_broker_csv, upsert_broker


@click.group(help="Vermittler verwalten (Slack-Nutzer ↔ Vermittlernummer ↔ E-Mail).")
def broker() -> None:
    pass


@broker.command("add", help="Einen Vermittler eintragen.")
@click.option("--slack-user", required=True, help="Slack-Nutzer-ID, z. B. U0123ABC")
@click.option("--nummer", required=True, help="Vermittlernummer, z. B. 4711")
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--cc", multiple=True, help="weitere Empfänger der System-E-Mails")
def broker_add(slack_user: str, nummer: str, name: str, email: str, cc: tuple[str, ...]) -> None:
    settings = settings_or_exit()
    data = domain_or_exit(
        lambda: parse_broker(
            slack_user_id=slack_user, number=nummer, name=name, email=email, cc_emails=cc
        )
    )

    async def work(session: AsyncSession) -> str:
        created = await add_broker(session, data)
        return f"Vermittler {created.number} ({created.name}) eingetragen."

    click.echo(run(in_transaction(settings, work)))


@broker.command("list", help="Alle Vermittler anzeigen.")
def broker_list() -> None:
    settings = settings_or_exit()

    async def work(session: AsyncSession) -> list[str]:
        return [
            f"{b.number}\t{b.slack_user_id}\t{b.name}\t{b.email}"
            + (f"\tCC: {', '.join(b.cc_emails)}" if b.cc_emails else "")
            for b in await list_brokers(session)
        ]

    lines = run(in_transaction(settings, work))
    click.echo("\n".join(lines) if lines else "Noch keine Vermittler eingetragen.")


@broker.command("import", help="Vermittler aus CSV (slack_user;nummer;name;email;cc) übernehmen.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def broker_import(file: Path) -> None:
    settings = settings_or_exit()
    rows = domain_or_exit(lambda: parse_broker_csv(file.read_text(encoding="utf-8-sig")))

    async def work(session: AsyncSession) -> int:
        for data in rows:
            await upsert_broker(session, data)
        return len(rows)

    count = run(in_transaction(settings, work))
    click.echo(f"{count} Vermittler übernommen.")
