"""`tenderbot budget …`: show a broker's Konzeptrabatt account and book by hand (B1–B5)."""

from __future__ import annotations

import json
import sys
import uuid
from decimal import Decimal

import click
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.common import in_transaction, run, settings_or_exit, with_sessions
from bot.cli.platform import apply_text
from bot.cli.progress import progress
from bot.settings import Settings
from handlers.blocks.budget import INTERNAL_REFERENCE_KINDS, KIND_LABELS
from pricing.formats import format_cents, format_date, format_datetime, format_euro
from store.brokers import broker_by_number
from store.budget import Statement, statement
from store.db import transaction
from store.distribution import (
    DistributionResult,
    distribute_budget,
    queue_distribution_notices,
)
from store.money import from_cents
from store.platform import Outcome
from store.types import utcnow


@click.group(help="Konzeptrabatt-Budget (Regeln B1–B5).")
def budget() -> None:
    pass


def _entry_json(entry_statement: Statement) -> list[dict[str, object]]:
    return [
        {
            "id": entry.id,
            "date": entry.created_at.isoformat(),
            "kind": entry.kind,
            "amount": str(from_cents(entry.amount_cents)),
            "reference": entry.reference,
            "note": entry.note,
        }
        for entry in entry_statement.entries
    ]


@budget.command("show", help="Saldo und letzte Buchungen eines Vermittlers (B5).")
@click.option("--broker", "number", required=True, help="Vermittlernummer")
@click.option("--json", "as_json", is_flag=True, help="als JSON ausgeben")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000))
def budget_show(number: str, as_json: bool, limit: int) -> None:
    settings = settings_or_exit()

    async def work(session: AsyncSession) -> Statement:
        broker = await broker_by_number(session, number)
        return await statement(session, broker.id, limit=limit)

    result = run(in_transaction(settings, work))
    if as_json:
        payload = {
            "broker": number,
            "balance": str(result.balance),
            "credit_limit": str(result.credit_limit),
            "entries": _entry_json(result),
        }
        click.echo(json.dumps(payload, ensure_ascii=False))
        return
    click.echo(f"Konzeptrabattkonto {number}: {format_euro(result.balance)}")
    if result.credit_limit > Decimal(0):
        click.echo(f"Kreditrahmen: {format_euro(result.credit_limit)}")
    if not result.entries:
        click.echo("Noch keine Buchungen.")
    for entry in result.entries:
        day = format_date(entry.created_at.astimezone(settings.zone))
        label = KIND_LABELS.get(entry.kind, entry.kind)
        shown = entry.reference and entry.kind not in INTERNAL_REFERENCE_KINDS
        click.echo(
            f"{day}  {format_cents(entry.amount_cents):>14}  {label}"
            + (f"  {entry.reference}" if shown else "")
        )


@budget.command("distribute", help="Jahresbudget von Hand verteilen (B1–B3); nur einmal pro Jahr.")
@click.option("--year", required=True, type=click.IntRange(2000, 2100), help="Budgetjahr")
def budget_distribute(year: int) -> None:
    settings = settings_or_exit()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> tuple[DistributionResult, int]:
        async with transaction(sessions) as session:
            result = await distribute_budget(session, year)
        if not result.ran:
            return result, await queue_distribution_notices(sessions)
        # The bookings are one statement each; the notices go 5,000 brokers per transaction.
        with progress(f"Benachrichtigungen {year}", result.brokers) as advance:
            return result, await queue_distribution_notices(sessions, progress=advance)

    result, notices = run(with_sessions(settings, work))
    if not result.ran:
        when = format_datetime(result.ran_at.astimezone(settings.zone)) if result.ran_at else "?"
        click.echo(f"Das Budget {year} wurde bereits am {when} verteilt – nichts gebucht.")
        if notices:
            click.echo(f"{notices} ausstehende Benachrichtigungen nachgereicht.")
        return
    click.echo(
        f"Budget {year} verteilt: {result.brokers} Vermittler, zusammen "
        f"{format_cents(result.total_cents)} (3 % des Neugeschäfts {result.base_year}); "
        f"{result.negative_offset} negative Salden verrechnet, {notices} Benachrichtigungen."
    )
    if result.unknown_count:
        numbers = ", ".join(number for number, _total in result.unknown_numbers)
        click.echo(
            f"{result.unknown_count} Vermittlernummern aus den FIV-Zahlen sind unbekannt und "
            f"wurden nicht bedacht: {numbers}",
            err=True,
        )


def _apply_by_hand(settings: Settings, type_: str, data: dict[str, object]) -> None:
    """Book through the platform's own event service, under an id of its own, so a booking
    by hand follows the same rules, audit and notices as one from the platform."""
    event = {
        "id": f"cli-{uuid.uuid4().hex}",
        "type": type_,
        "occurred_at": utcnow().isoformat(),
        "data": data,
    }

    async def work(sessions: async_sessionmaker[AsyncSession]) -> Outcome:
        return await apply_text(sessions, json.dumps(event))

    outcome = run(with_sessions(settings, work))
    if not outcome.ok:
        click.echo(f"Fehler: {outcome.message}", err=True)
        sys.exit(1)
    click.echo(outcome.message)
    if "balance" in outcome.body:
        click.echo(
            f"Saldo {_euro(outcome.body['balance'])}, Kreditrahmen "
            f"{_euro(outcome.body['credit_limit'])}, verfügbar {_euro(outcome.body['available'])}."
        )


def _euro(value: object) -> str:
    return format_euro(Decimal(str(value)))


@budget.command("charge", help="Konzeptrabatt einer Police belasten (P3), z. B. --betrag 250,00.")
@click.option("--broker", "number", required=True, help="Vermittlernummer")
@click.option("--police", "policy", required=True, help="Policennummer")
@click.option("--betrag", "amount", required=True, help="Konzeptrabatt in €, z. B. 250,00")
@click.option("--ausschreibung", "tender", default=None, help="Ausschreibung, z. B. AS-2026-0001")
def budget_charge(number: str, policy: str, amount: str, tender: str | None) -> None:
    data: dict[str, object] = {
        "broker_number": number,
        "policy_number": policy,
        "konzeptrabatt": amount,
    }
    if tender:
        data["tender_reference"] = tender.strip().upper()
    _apply_by_hand(settings_or_exit(), "policy.issued", data)


@budget.command("storno", help="Storno ab Beginn: den Konzeptrabatt der Police gutschreiben (B4).")
@click.option("--police", "policy", required=True, help="Policennummer")
def budget_storno(policy: str) -> None:
    _apply_by_hand(
        settings_or_exit(),
        "policy.cancelled",
        {"policy_number": policy, "from_inception": True},
    )


@budget.command("credit", help="Kreditrahmen eines Vermittlers setzen (P3), z. B. --betrag 500,00.")
@click.option("--broker", "number", required=True, help="Vermittlernummer")
@click.option("--betrag", "amount", required=True, help="Kreditrahmen in €, z. B. 500,00")
def budget_credit(number: str, amount: str) -> None:
    _apply_by_hand(
        settings_or_exit(), "broker.credit_limit", {"broker_number": number, "amount": amount}
    )
