"""`tenderbot fiv import`: the FIV new-business figures behind the yearly budget (rule B1)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli.common import run, settings_or_exit, with_sessions
from bot.cli.progress import progress
from bot.settings import Settings
from store.db import transaction
from store.distribution_wait import waits_for_figures
from store.fiv import HEADER, FivImportResult, import_fiv_file

if TYPE_CHECKING:
    # The distribution, its models and the price formats are loaded only when a
    # distribution waits for the imported figures: most imports end without one.
    from store.distribution import DistributionResult


def _count(number: int, one: str, many: str) -> str:
    return f"{number} {one if number == 1 else many}"


@click.group(help="FIV-Neugeschäftszahlen (Grundlage des Konzeptrabatt-Budgets, B1).")
def fiv() -> None:
    pass


@fiv.command(
    "import",
    help=(
        "FIV-Zahlen aus CSV übernehmen (UTF-8, „;“-getrennt, Kopfzeile "
        + ";".join(HEADER)
        + "[;position], Beträge wie 1.234,56; nur Position FirmenKonzept zählt). "
        "Ein erneuter Import ersetzt die Zahlen der enthaltenen "
        "Vermittler-Jahr-Paare. Standard: alles oder nichts."
    ),
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--skip-invalid",
    is_flag=True,
    help="Gültige Zeilen übernehmen und fehlerhafte nur melden.",
)
def fiv_import(file: Path, skip_invalid: bool) -> None:
    settings = settings_or_exit()

    with progress(f"FIV-Import {file.name}", file.stat().st_size) as advance:

        async def work(
            sessions: async_sessionmaker[AsyncSession],
        ) -> tuple[FivImportResult, DistributionResult | None]:
            # One engine (and one schema check) for the import and the distribution that
            # may wait for it.
            async with transaction(sessions) as session:
                result = await import_fiv_file(
                    session, file, skip_invalid=skip_invalid, progress=advance
                )
            return result, await _distribute_if_waiting(settings, sessions, result.years)

        try:
            result, done = run(with_sessions(settings, work))
        except SQLAlchemyError as error:
            raise click.ClickException(
                f"FIV import failed on {settings.database_url_for_logs}: "
                f"{type(error).__name__}: {error.args[0] if error.args else error}"
            ) from None
    years = ", ".join(str(year) for year in sorted(result.years)) or "–"
    click.echo(
        f"{_count(result.imported, 'Zeile', 'Zeilen')} übernommen "
        f"({_count(result.pairs, 'Vermittler-Jahr-Paar', 'Vermittler-Jahr-Paare')} ersetzt, "
        f"Jahre: {years})."
    )
    if result.ignored_positions:
        click.echo(
            f"{_count(result.ignored_positions, 'Zeile', 'Zeilen')} anderer Positionen als "
            "FirmenKonzept nicht berücksichtigt (B1)."
        )
    if done is not None and done.ran:
        from pricing.formats import format_cents

        click.echo(
            f"Budget {done.year} verteilt: {done.brokers} Vermittler, zusammen "
            f"{format_cents(done.total_cents)} (3 % des Neugeschäfts {done.base_year})."
        )
    if result.skipped_total:
        click.echo(
            f"{_count(result.skipped_total, 'fehlerhafte Zeile', 'fehlerhafte Zeilen')} "
            "übersprungen:",
            err=True,
        )
        for problem in result.skipped:
            click.echo(f"  {problem}", err=True)
        if result.skipped_total > len(result.skipped):
            click.echo(f"  … und {result.skipped_total - len(result.skipped)} weitere.", err=True)


async def _distribute_if_waiting(
    settings: Settings, sessions: async_sessionmaker[AsyncSession], years: set[int]
) -> DistributionResult | None:
    """Rule B2: a yearly distribution waiting for these figures runs right after the import
    (still once: the run claims its year)."""
    async with transaction(sessions) as session:
        waiting = await waits_for_figures(session, years)
    if not waiting:
        return None
    # The scheduler and what it imports only when a distribution is due.
    from bot.scheduler import run_budget_distribution

    return await run_budget_distribution(settings, sessions)
