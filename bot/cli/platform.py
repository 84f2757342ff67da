"""`tenderbot platform send/import`: platform events by hand, applied exactly like
``POST /platform/events`` applies them (same service, same answer, each event id once)."""

from __future__ import annotations

import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from typing import IO

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.common import run, settings_or_exit, with_sessions
from store.platform import Outcome, apply_event, unprocessable
from store.platform_events import EventInvalid, parse_event


async def apply_text(sessions: async_sessionmaker[AsyncSession], text: str) -> Outcome:
    """One event as JSON text → its answer; a body that does not validate answers 422."""
    try:
        event = parse_event(text)
    except EventInvalid as invalid:
        return unprocessable(invalid.problems)
    return await apply_event(sessions, event)


@click.group(help="Ereignisse der Plattform (Policen, Storno, Kredit, Tarifrechner) von Hand.")
def platform() -> None:
    pass


@platform.command("send", help="Ein Ereignis (JSON-Datei oder - für stdin) anwenden.")
@click.argument("source", type=click.File("r", encoding="utf-8"))
def platform_send(source: IO[str]) -> None:
    settings = settings_or_exit()
    text = source.read()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> Outcome:
        return await apply_text(sessions, text)

    outcome = run(with_sessions(settings, work))
    click.echo(json.dumps({"http_status": outcome.http_status, **outcome.body}, ensure_ascii=False))
    if not outcome.ok:
        sys.exit(1)


@dataclass
class ImportReport:
    statuses: Counter[str] = field(default_factory=Counter)
    refusals: list[tuple[int, Outcome]] = field(default_factory=list)


@platform.command(
    "import",
    help="Ereignisse aus einer JSON-Lines-Datei anwenden (eins pro Zeile, jedes nur einmal).",
)
@click.argument("source", type=click.File("r", encoding="utf-8"))
def platform_import(source: IO[str]) -> None:
    settings = settings_or_exit()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> ImportReport:
        report = ImportReport()
        for number, line in enumerate(source, start=1):
            if not line.strip():
                continue
            outcome = await apply_text(sessions, line)
            if outcome.ok:
                report.statuses[str(outcome.body["status"])] += 1
            else:
                report.statuses["refused"] += 1
                report.refusals.append((number, outcome))
        return report

    report = run(with_sessions(settings, work))
    counts = report.statuses
    click.echo(
        f"{counts['booked']} gebucht, {counts['recorded']} vermerkt, "
        f"{counts['duplicate']} bereits bekannt, {counts['refused']} abgelehnt."
    )
    for number, outcome in report.refusals:
        code = outcome.body.get("code", "invalid")
        click.echo(f"Zeile {number}: {outcome.http_status} {code}: {outcome.message}", err=True)
    if report.refusals:
        sys.exit(1)
